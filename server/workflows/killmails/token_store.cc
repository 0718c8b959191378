#include "server/workflows/killmails/token_store.h"

#include <algorithm>
#include <set>

#include <glog/logging.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/time_util.h"
#include "server/workflows/killmails/killmail_sql.h"

namespace sluice {

std::string TokenLabel(int64_t character_id) { return absl::StrCat("character:", character_id); }

std::string RefreshTokenLabel(int64_t character_id) {
  return absl::StrCat("character:", character_id, ":refresh");
}

absl::Status CharacterTokenStore::CheckToken(const std::string& field, const std::string& token) {
  if (token.empty()) return absl::InvalidArgumentError(field + " is required");
  if (token.size() > kMaxTokenLength) {
    return absl::InvalidArgumentError(field + ": at most " + std::to_string(kMaxTokenLength) +
                                      " characters");
  }
  // It goes into an HTTP header or form: no spaces, control or non-ASCII.
  if (!std::all_of(token.begin(), token.end(), [](char ch) { return ch > 0x20 && ch < 0x7f; })) {
    return absl::InvalidArgumentError(field + ": only printable ASCII without spaces is allowed");
  }
  return absl::OkStatus();
}

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
  if (absl::Status s = CheckToken("access_token", access_token); !s.ok()) return s;
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

absl::StatusOr<bool> CharacterTokenStore::RegisterRefreshable(int64_t character_id,
                                                              const RefreshedToken& token) {
  if (character_id <= 0) {
    return absl::InvalidArgumentError("character_id must be positive, got " +
                                      std::to_string(character_id));
  }
  if (absl::Status s = CheckToken("access_token", token.access_token); !s.ok()) return s;
  if (absl::Status s = CheckToken("refresh_token", token.refresh_token); !s.ok()) return s;
  const TimePoint now = clock_->Now();
  if (token.expires_at <= now) {
    return absl::InvalidArgumentError("expires_at " + FormatRfc3339(token.expires_at) +
                                      " is not in the future");
  }
  if (box_ == nullptr) return NoTokenKeyError("cannot store the token");
  const std::string access = absl::BytesToHexString(
      box_->Seal(TokenLabel(character_id), token.access_token).box);
  const std::string refresh = absl::BytesToHexString(
      box_->Seal(RefreshTokenLabel(character_id), token.refresh_token).box);
  bool created = false;
  absl::Status s = pool_->Run([&](pqxx::connection& conn) {
    pqxx::work w(conn);
    auto row = w.exec_params1(killmail_sql::kPutRefreshable, character_id, access, refresh,
                              box_->current_key_id(), FormatRfc3339(token.expires_at),
                              PgTextArray(token.scopes), FormatRfc3339(now));
    created = row[0].as<bool>();
    w.commit();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return created;
}

absl::StatusOr<std::vector<DueRefresh>> CharacterTokenStore::DueForRefresh(Duration margin,
                                                                           int limit) {
  if (box_ == nullptr) return NoTokenKeyError("cannot refresh tokens");
  const TimePoint now = clock_->Now();
  struct Row {
    int64_t id;
    std::string sealed_hex, key_id;
    int failures;
  };
  std::vector<Row> rows;
  absl::Status s = pool_->Run([&](pqxx::connection& conn) {
    rows.clear();
    pqxx::read_transaction r(conn);
    for (const auto& row :
         r.exec_params(killmail_sql::kDueForRefresh, FormatRfc3339(now),
                       std::chrono::duration<double>(margin).count(), limit)) {
      rows.push_back(Row{row[0].as<int64_t>(), row[1].c_str(), row[2].c_str(), row[3].as<int>()});
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  std::vector<DueRefresh> out;
  for (const Row& row : rows) {
    auto opened = box_->Open(row.key_id, absl::HexStringToBytes(row.sealed_hex),
                             RefreshTokenLabel(row.id));
    DueRefresh due{row.id, "", row.sealed_hex, row.failures};
    if (!opened.ok()) {
      const std::string reason =
          "the stored refresh token cannot be opened: " + std::string(opened.status().message());
      LOG(WARNING) << "character " << row.id << ": " << reason;
      if (absl::Status d = Disable(row.id, &due, reason); !d.ok()) return d;
      continue;
    }
    due.refresh_token = std::move(*opened);
    out.push_back(std::move(due));
  }
  return out;
}

absl::StatusOr<bool> CharacterTokenStore::StoreRefreshed(const DueRefresh& used,
                                                         const RefreshedToken& token) {
  if (absl::Status s = CheckToken("access_token", token.access_token); !s.ok()) return s;
  if (absl::Status s = CheckToken("refresh_token", token.refresh_token); !s.ok()) return s;
  if (box_ == nullptr) return NoTokenKeyError("cannot store the token");
  const std::string access = absl::BytesToHexString(
      box_->Seal(TokenLabel(used.character_id), token.access_token).box);
  const std::string refresh = absl::BytesToHexString(
      box_->Seal(RefreshTokenLabel(used.character_id), token.refresh_token).box);
  const TimePoint now = clock_->Now();
  bool stored = false;
  absl::Status s = pool_->Run([&](pqxx::connection& conn) {
    pqxx::work w(conn);
    stored = w.exec_params(killmail_sql::kStoreRefreshed, used.character_id, used.sealed_hex,
                           access, refresh, box_->current_key_id(),
                           FormatRfc3339(token.expires_at), PgTextArray(token.scopes),
                           FormatRfc3339(now))
                 .affected_rows() == 1;
    w.commit();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return stored;
}

absl::Status CharacterTokenStore::RecordRefreshFailure(const DueRefresh& used,
                                                       TimePoint next_attempt,
                                                       const std::string& error) {
  return pool_->Run([&](pqxx::connection& conn) {
    pqxx::work w(conn);
    w.exec_params(killmail_sql::kRefreshFailed, used.character_id, used.sealed_hex,
                  FormatRfc3339(next_attempt), error.substr(0, 500));
    w.commit();
    return absl::OkStatus();
  });
}

absl::Status CharacterTokenStore::Disable(int64_t character_id, const DueRefresh* used,
                                          const std::string& reason) {
  const TimePoint now = clock_->Now();
  const bool any = used == nullptr;
  const std::string sealed = any ? "" : used->sealed_hex;
  return pool_->Run([&](pqxx::connection& conn) {
    pqxx::work w(conn);
    w.exec_params(killmail_sql::kDisableToken, character_id, any, sealed, reason.substr(0, 500),
                  FormatRfc3339(now));
    w.commit();
    return absl::OkStatus();
  });
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
      info.refreshable = row[6].as<bool>();
      info.state = row[7].c_str();
      info.disabled_reason = row[8].c_str();
      if (!row[9].is_null()) info.disabled_at = FromUnixSeconds(row[9].as<double>());
      if (row[11].as<bool>()) {
        std::vector<std::string> scopes = absl::StrSplit(row[10].c_str(), ' ', absl::SkipEmpty());
        info.scopes = std::move(scopes);
      }
      info.refreshes = row[12].as<int64_t>();
      info.refresh_failures = row[13].as<int>();
      info.last_refresh_error = row[14].c_str();
      if (!row[15].is_null()) info.next_refresh_at = FromUnixSeconds(row[15].as<double>());
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
      std::vector<std::string> sealed, refresh_sealed;
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
        std::string refresh;
        if (!r[4].is_null()) {
          auto opened = box_->Open(r[5].c_str(), absl::HexStringToBytes(r[4].c_str()),
                                   RefreshTokenLabel(id));
          if (!opened.ok()) {
            LOG(WARNING) << "character " << id << "'s refresh token cannot be re-keyed: "
                         << opened.status().message();
            ++page.unreadable;
            continue;
          }
          refresh = absl::BytesToHexString(box_->Seal(RefreshTokenLabel(id), *opened).box);
        }
        ids.push_back(id);
        sealed.push_back(absl::BytesToHexString(box_->Seal(TokenLabel(id), plain).box));
        refresh_sealed.push_back(refresh);
      }
      if (!ids.empty()) {
        w.exec_params(killmail_sql::kResealTokens, PgArray(ids), PgTextArray(sealed),
                      box_->current_key_id(), PgTextArray(refresh_sealed));
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
