// sluicectl tokens: the character tokens killmail sync uses.
//   tokens add CHARACTER_ID TOKEN|- [--expires=RFC3339] store or replace a token ("-": read
//                                                       it from stdin, not the command line)
//   tokens list [CHARACTER_ID...] [--json]              characters with a token (never the token)
//   tokens rekey                                        seal every token under the current key
#include <gflags/gflags.h>
#include <google/protobuf/util/time_util.h>

#include <cstdio>
#include <iostream>

#include "absl/strings/numbers.h"
#include "client/cli.h"
#include "common/time_util.h"
#include "sluice/v1/killmails.grpc.pb.h"

DEFINE_string(expires, "",
              "tokens add: when the token expires (RFC 3339, e.g. 2026-11-23T05:09:08Z); "
              "default: 20 minutes from now, ESI's access token lifetime");

namespace sluice::cli {
namespace {

constexpr char kTokensUsage[] =
    "usage: sluicectl tokens add CHARACTER_ID TOKEN|- [--expires=RFC3339] | "
    "sluicectl tokens list [CHARACTER_ID...] [--json] | sluicectl tokens rekey";

std::string Time(const google::protobuf::Timestamp& ts) { return FormatRfc3339(FromProto(ts)); }

int CmdTokensAdd(Context& ctx) {
  if (ctx.args.size() != 3) return UsageError(kTokensUsage);
  v1::RegisterCharacterTokenRequest req;
  int64_t id = 0;
  if (!absl::SimpleAtoi(ctx.args[1], &id) || id <= 0) {
    return UsageError("tokens add: CHARACTER_ID must be a positive integer, got '" + ctx.args[1] +
                      "'");
  }
  req.set_character_id(id);
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
          {"killmails", t.killmails()},       {"updated_at", Time(t.updated_at())}};
      o["last_killmail_sync_at"] =
          t.has_last_killmail_sync_at() ? nlohmann::json(Time(t.last_killmail_sync_at())) : nullptr;
      out.push_back(o);
    }
    PrintJson(out);
    return 0;
  }
  std::printf("%-12s %-28s %-8s %-14s %-28s %s\n", "CHARACTER", "EXPIRES", "EXPIRED",
              "LAST KILLMAIL", "LAST SYNC", "KILLMAILS");
  for (const auto& t : resp.tokens()) {
    std::printf("%-12lld %-28s %-8s %-14lld %-28s %lld\n", static_cast<long long>(t.character_id()),
                Time(t.expires_at()).c_str(), t.expired() ? "yes" : "no",
                static_cast<long long>(t.last_killmail_id()),
                t.has_last_killmail_sync_at() ? Time(t.last_killmail_sync_at()).c_str() : "never",
                static_cast<long long>(t.killmails()));
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
