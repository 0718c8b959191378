#include "server/store/pg_state_store.h"

#include <nlohmann/json.hpp>

#include "server/store/state_sql.h"

namespace sluice {

absl::Status PgStateStore::Put(const std::string& key, const std::string& json_value) {
  return pool_->Run([&](pqxx::connection& conn) {
    pqxx::work w(conn);
    w.exec_params(state_sql::kPut, key, json_value);
    w.commit();
    return absl::OkStatus();
  });
}

absl::StatusOr<std::string> PgStateStore::Get(const std::string& key) {
  std::string value;
  bool found = false;
  absl::Status s = pool_->Run([&](pqxx::connection& conn) {
    pqxx::read_transaction r(conn);
    auto res = r.exec_params(state_sql::kGet, key);
    if (!res.empty()) {
      found = true;
      value = res[0][0].c_str();
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (!found) return absl::NotFoundError("no system_state row for key " + key);
  return value;
}

absl::StatusOr<std::map<std::string, std::string>> PgStateStore::List(const std::string& prefix) {
  std::map<std::string, std::string> out;
  absl::Status s = pool_->Run([&](pqxx::connection& conn) {
    pqxx::read_transaction r(conn);
    for (const auto& row : r.exec_params(state_sql::kList, prefix)) {
      out[row[0].c_str()] = row[1].c_str();
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::Status PgStateStore::Apply(const std::vector<Change>& changes) {
  if (changes.empty()) return absl::OkStatus();
  // One statement per kind of change, whatever their number: the upserts as
  // one JSON object (values are JSON documents already, spliced in as they
  // are), the deletes as one JSON array of keys.
  std::string upserts = "{";
  nlohmann::json deletes = nlohmann::json::array();
  for (const auto& [key, value] : changes) {
    if (!value) {
      deletes.push_back(key);
      continue;
    }
    if (upserts.size() > 1) upserts.push_back(',');
    upserts += nlohmann::json(key).dump();
    upserts.push_back(':');
    upserts += *value;
  }
  upserts.push_back('}');
  return pool_->Run([&](pqxx::connection& conn) {
    pqxx::work w(conn);
    if (!deletes.empty()) {
      w.exec_params(state_sql::kDeleteMany, deletes.dump());
    }
    if (upserts.size() > 2) {
      w.exec_params(state_sql::kPutMany, upserts);
    }
    w.commit();
    return absl::OkStatus();
  });
}

}  // namespace sluice
