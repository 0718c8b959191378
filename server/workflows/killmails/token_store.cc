#include "server/workflows/killmails/token_store.h"

#include <algorithm>
#include <set>

#include <glog/logging.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/time_util.h"
#include "server/workflows/killmails/killmail_sql.h"

namespace sluice {

std::string TokenLabel(int64_t character_id) { return absl::StrCat("character:", character_id); }

absl::Status NoTokenKeyError(const std::string& what) {
  return absl::FailedPreconditionError(
      what +
      ": the coordinator has no token key, and ESI tokens are only stored sealed; start it "
      "with --token_key_file (or SLUICE_TOKEN_KEY_FILE) naming a file of 64 hex digits "
      "(`openssl rand -hex 32`)");
}

absl::StatusOr<bool> CharacterTokenStore::Register(int64_t character_id,
                                                   const std::string& access_token,
                                                   TimePoint expires_at) {
  if (character_id <= 0) {
    return absl::InvalidArgumentError("character_id must be positive, got " +
                                      std::to_string(character_id));
  }
  if (access_token.empty()) return absl::InvalidArgumentError("access_token is required");
  if (access_token.size() > kMaxTokenLength) {
    return absl::InvalidArgumentError("access_token: at most " + std::to_string(kMaxTokenLength) +
                                      " characters");
  }
  // It goes into an HTTP header: no spaces, control or non-ASCII characters.
  if (!std::all_of(access_token.begin(), access_token.end(),
                   [](char ch) { return ch > 0x20 && ch < 0x7f; })) {
    return absl::InvalidArgumentError(
        "access_token: only printable ASCII without spaces is allowed");
  }
  const TimePoint now = clock_->Now();
  if (expires_at <= now) {
    return absl::InvalidArgumentError("expires_at " + FormatRfc3339(expires_at) +
                                      " is not in the future");
  }
  if (box_ == nullptr) return NoTokenKeyError("cannot store the token");
  const SecretBox::Sealed sealed = box_->Seal(TokenLabel(character_id), access_token);
  const std::string sealed_hex = absl::BytesToHexString(sealed.box);
  bool created = false;
  absl::Status s = pool_->Run([&](pqxx::connection& conn) {
    pqxx::work w(conn);
    auto row = w.exec_params1(killmail_sql::kPutToken, character_id, sealed_hex, sealed.key_id,
                              FormatRfc3339(expires_at), FormatRfc3339(now));
    created = row[0].as<bool>();
    w.commit();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return created;
}

absl::StatusOr<std::vector<CharacterTokenInfo>> CharacterTokenStore::List(
    const std::vector<int64_t>& ids) {
  if (static_cast<int>(ids.size()) > kMaxListIds) {
    return absl::InvalidArgumentError("character_ids: at most " + std::to_string(kMaxListIds));
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] <= 0) {
      return absl::InvalidArgumentError("character_ids[" + std::to_string(i) +
                                        "] must be positive, got " + std::to_string(ids[i]));
    }
  }
  const TimePoint now = clock_->Now();
  std::vector<CharacterTokenInfo> out;
  absl::Status s = pool_->Run([&](pqxx::connection& conn) {
    out.clear();
    pqxx::read_transaction r(conn);
    for (const auto& row : r.exec_params(killmail_sql::kListTokens, ids.empty(), PgArray(ids))) {
      CharacterTokenInfo info;
      info.character_id = row[0].as<int64_t>();
      info.expires_at = FromUnixSeconds(row[1].as<double>());
      info.expired = info.expires_at <= now;
      info.last_killmail_id = row[2].as<int64_t>();
      if (!row[3].is_null()) info.last_killmail_sync_at = FromUnixSeconds(row[3].as<double>());
      info.killmails = row[4].as<int64_t>();
      info.updated_at = FromUnixSeconds(row[5].as<double>());
      out.push_back(info);
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (!ids.empty()) {
    std::set<int64_t> found;
    for (const auto& t : out) found.insert(t.character_id);
    std::string missing;
    for (int64_t id : std::set<int64_t>(ids.begin(), ids.end())) {
      if (found.count(id)) continue;
      if (!missing.empty()) missing += ", ";
      missing += std::to_string(id);
    }
    if (!missing.empty()) {
      return absl::NotFoundError("character_ids: no token stored for character(s) " + missing);
    }
  }
  return out;
}

absl::StatusOr<RekeyResult> CharacterTokenStore::Rekey() {
  if (box_ == nullptr) return NoTokenKeyError("cannot re-key tokens");
  RekeyResult result;
  result.current_key_id = box_->current_key_id();
  int64_t after = 0;
  for (;;) {
    int rows = 0;
    RekeyResult page;
    absl::Status s = pool_->Run([&](pqxx::connection& conn) {
      page = RekeyResult{};
      rows = 0;
      pqxx::work w(conn);
      std::vector<int64_t> ids;
      std::vector<std::string> sealed;
      for (const auto& r : w.exec_params(killmail_sql::kTokensToReseal, after,
                                         box_->current_key_id(), kRekeyPage)) {
        ++rows;
        const int64_t id = r[0].as<int64_t>();
        after = std::max(after, id);
        std::string plain;
        if (!r[3].is_null()) {
          plain = r[3].c_str();
          ++page.sealed_plain;
        } else {
          auto opened =
              box_->Open(r[2].c_str(), absl::HexStringToBytes(r[1].c_str()), TokenLabel(id));
          if (!opened.ok()) {
            LOG(WARNING) << "character " << id
                         << "'s token cannot be re-keyed: " << opened.status().message();
            ++page.unreadable;
            continue;
          }
          plain = std::move(*opened);
          ++page.resealed;
        }
        ids.push_back(id);
        sealed.push_back(absl::BytesToHexString(box_->Seal(TokenLabel(id), plain).box));
      }
      if (!ids.empty()) {
        w.exec_params(killmail_sql::kResealTokens, PgArray(ids), PgTextArray(sealed),
                      box_->current_key_id());
      }
      w.commit();
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    result.resealed += page.resealed;
    result.sealed_plain += page.sealed_plain;
    result.unreadable += page.unreadable;
    if (rows < kRekeyPage) break;
  }
  return result;
}

}  // namespace sluice
