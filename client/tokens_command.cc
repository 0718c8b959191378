// sluicectl tokens: the character tokens killmail sync uses.
//   tokens add CHARACTER_ID TOKEN|- [--expires=RFC3339] store or replace an access token alone
//                                                       ("-": read it from stdin); it expires
//   tokens add CHARACTER_ID --refresh_token=TOKEN|-|@FILE
//                                                       an EVE SSO refresh token: the
//                                                       coordinator refreshes it from then on
//   tokens add CHARACTER_ID --code=CODE                 an EVE SSO authorization code, exchanged
//                                                       by the coordinator
//   tokens list [CHARACTER_ID...] [--json]              characters with a token (never the token)
//   tokens rekey                                        seal every token under the current key
#include <gflags/gflags.h>
#include <google/protobuf/util/time_util.h>

#include <cstdio>
#include <iostream>
#include <optional>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "client/cli.h"
#include "common/env_flags.h"
#include "common/time_util.h"
#include "sluice/v1/killmails.grpc.pb.h"

DEFINE_string(expires, "",
              "tokens add: when the token expires (RFC 3339, e.g. 2026-11-23T05:09:08Z); "
              "default: 20 minutes from now, ESI's access token lifetime");

DEFINE_string(refresh_token, "",
              "tokens add: an EVE SSO refresh token; '-' reads it from stdin and '@PATH' from a "
              "file, so it stays out of the shell's history and ps");
DEFINE_string(code, "",
              "tokens add: an EVE SSO authorization code (from the SSO's redirect), exchanged "
              "by the coordinator with its client id and secret");

namespace sluice::cli {
namespace {

constexpr char kTokensUsage[] =
    "usage: sluicectl tokens add CHARACTER_ID TOKEN|- [--expires=RFC3339] | "
    "sluicectl tokens add CHARACTER_ID --refresh_token=TOKEN|-|@FILE | "
    "sluicectl tokens add CHARACTER_ID --code=CODE | "
    "sluicectl tokens list [CHARACTER_ID...] [--json] | sluicectl tokens rekey";

std::string Time(const google::protobuf::Timestamp& ts) { return FormatRfc3339(FromProto(ts)); }

// The line a secret is given on: '-' stdin, '@PATH' a file, else itself.
std::optional<std::string> ReadSecretArg(const std::string& value, std::string* error) {
  std::string out;
  if (value == "-") {
    std::getline(std::cin, out);
  } else if (!value.empty() && value[0] == '@') {
    absl::StatusOr<std::string> text = ReadSecretFile(value.substr(1));
    if (!text.ok()) {
      *error = std::string(text.status().message());
      return std::nullopt;
    }
    out = *text;
  } else {
    out = value;
  }
  while (!out.empty() && (out.back() == '\r' || out.back() == ' ' || out.back() == '\n')) {
    out.pop_back();
  }
  return out;
}

int CmdTokensAdd(Context& ctx) {
  const bool sso = !FLAGS_refresh_token.empty() || !FLAGS_code.empty();
  if (ctx.args.size() != (sso ? 2u : 3u)) return UsageError(kTokensUsage);
  if (!FLAGS_refresh_token.empty() && !FLAGS_code.empty()) {
    return UsageError("tokens add: give --refresh_token or --code, not both");
  }
  v1::RegisterCharacterTokenRequest req;
  int64_t id = 0;
  if (!absl::SimpleAtoi(ctx.args[1], &id) || id <= 0) {
    return UsageError("tokens add: CHARACTER_ID must be a positive integer, got '" + ctx.args[1] +
                      "'");
  }
  req.set_character_id(id);
  if (sso) {
    if (!FLAGS_expires.empty()) {
      return UsageError("tokens add: --expires goes with an access token; a refreshed token's "
                        "expiry comes from the SSO");
    }
    std::string error;
    if (!FLAGS_refresh_token.empty()) {
      auto token = ReadSecretArg(FLAGS_refresh_token, &error);
      if (!token) return UsageError("tokens add: --refresh_token: " + error);
      if (token->empty()) return UsageError("tokens add: --refresh_token is empty");
      req.set_refresh_token(*token);
    } else {
      auto code = ReadSecretArg(FLAGS_code, &error);
      if (!code) return UsageError("tokens add: --code: " + error);
      if (code->empty()) return UsageError("tokens add: --code is empty");
      req.set_authorization_code(*code);
    }
    auto stub = v1::KillmailAdminService::NewStub(ctx.channel);
    v1::RegisterCharacterTokenResponse resp;
    grpc::ClientContext call;
    Prepare(ctx, &call, 60000);
    grpc::Status s = stub->RegisterCharacterToken(&call, req, &resp);
    if (!s.ok()) return RpcError("tokens add", s);
    std::vector<std::string> scopes(resp.scopes().begin(), resp.scopes().end());
    if (ctx.json) {
      PrintJson({{"character_id", id},
                 {"created", resp.created()},
                 {"refreshable", true},
                 {"expires_at", Time(resp.expires_at())},
                 {"scopes", scopes}});
    } else {
      std::printf("%s refreshable token of character %lld (access token expires %s, scopes %s)\n",
                  resp.created() ? "stored" : "replaced", static_cast<long long>(id),
                  Time(resp.expires_at()).c_str(),
                  scopes.empty() ? "none" : absl::StrJoin(scopes, " ").c_str());
    }
    return 0;
  }
  if (ctx.args[2] == "-") {
    // A token on the command line is visible to every user of the host.
    std::string token;
    std::getline(std::cin, token);
    while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
    req.set_access_token(token);
  } else {
    req.set_access_token(ctx.args[2]);
  }
  if (FLAGS_expires.empty()) {
    *req.mutable_expires_at() =
        ToProto(std::chrono::system_clock::now() + std::chrono::minutes(20));
  } else if (!google::protobuf::util::TimeUtil::FromString(FLAGS_expires,
                                                           req.mutable_expires_at())) {
    return UsageError("tokens add: --expires must be RFC 3339 (2026-11-23T05:09:08Z), got '" +
                      FLAGS_expires + "'");
  }
  auto stub = v1::KillmailAdminService::NewStub(ctx.channel);
  v1::RegisterCharacterTokenResponse resp;
  grpc::ClientContext call;
  Prepare(ctx, &call);
  grpc::Status s = stub->RegisterCharacterToken(&call, req, &resp);
  if (!s.ok()) return RpcError("tokens add", s);
  if (ctx.json) {
    PrintJson({{"character_id", id},
               {"created", resp.created()},
               {"expires_at", Time(req.expires_at())}});
  } else {
    std::printf("%s token of character %lld (expires %s)\n", resp.created() ? "stored" : "replaced",
                static_cast<long long>(id), Time(req.expires_at()).c_str());
  }
  return 0;
}

int CmdTokensList(Context& ctx) {
  v1::ListCharacterTokensRequest req;
  for (size_t i = 1; i < ctx.args.size(); ++i) {
    int64_t id = 0;
    if (!absl::SimpleAtoi(ctx.args[i], &id) || id <= 0) {
      return UsageError("tokens list: CHARACTER_ID must be a positive integer, got '" +
                        ctx.args[i] + "'");
    }
    req.add_character_ids(id);
  }
  auto stub = v1::KillmailAdminService::NewStub(ctx.channel);
  v1::ListCharacterTokensResponse resp;
  grpc::ClientContext call;
  Prepare(ctx, &call);
  grpc::Status s = stub->ListCharacterTokens(&call, req, &resp);
  if (!s.ok()) return RpcError("tokens list", s);
  if (ctx.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& t : resp.tokens()) {
      nlohmann::json o = {
          {"character_id", t.character_id()}, {"expires_at", Time(t.expires_at())},
          {"expired", t.expired()},           {"last_killmail_id", t.last_killmail_id()},
          {"killmails", t.killmails()},       {"updated_at", Time(t.updated_at())},
          {"refreshable", t.refreshable()},   {"state", t.state()},
          {"refreshes", t.refreshes()},       {"refresh_failures", t.refresh_failures()}};
      o["disabled_reason"] =
          t.state() == "disabled" ? nlohmann::json(t.disabled_reason()) : nullptr;
      o["disabled_at"] = t.has_disabled_at() ? nlohmann::json(Time(t.disabled_at())) : nullptr;
      o["scopes"] = t.scopes_known() ? nlohmann::json(std::vector<std::string>(
                                           t.scopes().begin(), t.scopes().end()))
                                     : nlohmann::json(nullptr);
      o["last_refresh_error"] =
          t.last_refresh_error().empty() ? nlohmann::json(nullptr)
                                         : nlohmann::json(t.last_refresh_error());
      o["next_refresh_at"] =
          t.has_next_refresh_at() ? nlohmann::json(Time(t.next_refresh_at())) : nullptr;
      o["last_killmail_sync_at"] =
          t.has_last_killmail_sync_at() ? nlohmann::json(Time(t.last_killmail_sync_at())) : nullptr;
      out.push_back(o);
    }
    PrintJson(out);
    return 0;
  }
  std::printf("%-12s %-9s %-10s %-22s %-8s %-14s %-22s %-9s %s\n", "CHARACTER", "STATE",
              "REFRESH", "EXPIRES", "EXPIRED", "LAST KILLMAIL", "LAST SYNC", "KILLMAILS",
              "REASON");
  for (const auto& t : resp.tokens()) {
    const std::string refresh =
        t.refreshable() ? (t.refresh_failures() > 0
                               ? "failing:" + std::to_string(t.refresh_failures())
                               : std::to_string(t.refreshes()))
                        : "-";
    std::string reason = t.state() == "disabled" ? t.disabled_reason() : "";
    if (reason.empty() && t.refresh_failures() > 0) reason = t.last_refresh_error();
    std::printf("%-12lld %-9s %-10s %-22s %-8s %-14lld %-22s %-9lld %s\n",
                static_cast<long long>(t.character_id()), t.state().c_str(), refresh.c_str(),
                Time(t.expires_at()).c_str(), t.expired() ? "yes" : "no",
                static_cast<long long>(t.last_killmail_id()),
                t.has_last_killmail_sync_at() ? Time(t.last_killmail_sync_at()).c_str() : "never",
                static_cast<long long>(t.killmails()), reason.c_str());
  }
  if (resp.tokens().empty()) std::printf("(no character tokens)\n");
  return 0;
}

int CmdTokensRekey(Context& ctx) {
  if (ctx.args.size() != 1) return UsageError(kTokensUsage);
  auto stub = v1::KillmailAdminService::NewStub(ctx.channel);
  v1::RekeyCharacterTokensResponse resp;
  grpc::ClientContext call;
  Prepare(ctx, &call, 600000);
  grpc::Status s = stub->RekeyCharacterTokens(&call, v1::RekeyCharacterTokensRequest(), &resp);
  if (!s.ok()) return RpcError("tokens rekey", s);
  if (ctx.json) {
    PrintJson({{"resealed", resp.resealed()},
               {"sealed_plain", resp.sealed_plain()},
               {"unreadable", resp.unreadable()},
               {"current_key_id", resp.current_key_id()}});
  } else {
    std::printf(
        "tokens under key %s: %lld re-keyed, %lld sealed from plain text, %lld unreadable\n",
        resp.current_key_id().c_str(), static_cast<long long>(resp.resealed()),
        static_cast<long long>(resp.sealed_plain()), static_cast<long long>(resp.unreadable()));
  }
  return resp.unreadable() == 0 ? 0 : 1;
}

}  // namespace

int CmdTokens(Context& ctx) {
  if (ctx.args.empty()) return UsageError(kTokensUsage);
  if (ctx.args[0] == "add") return CmdTokensAdd(ctx);
  if (ctx.args[0] == "list") return CmdTokensList(ctx);
  if (ctx.args[0] == "rekey") return CmdTokensRekey(ctx);
  return UsageError("tokens: unknown subcommand '" + ctx.args[0] + "'\n" + kTokensUsage);
}

}  // namespace sluice::cli
