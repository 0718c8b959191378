#include "server/store/migrator.h"

#include <glog/logging.h>

#include <set>

#include "server/store/lock_keys.h"

namespace sluice {

absl::StatusOr<MigrationResult> Migrator::Apply() {
  MigrationResult result;
  absl::Status status = pool_->Run([&](pqxx::connection& conn) -> absl::Status {
    {
      pqxx::nontransaction nt(conn);
      nt.exec_params("SELECT pg_advisory_lock($1)", lock_keys::kMigration);
    }
    // Session-level lock: release it whatever happens below.
    struct Unlock {
      pqxx::connection& c;
      ~Unlock() {
        try {
          pqxx::nontransaction nt(c);
          nt.exec_params("SELECT pg_advisory_unlock($1)", lock_keys::kMigration);
        } catch (const std::exception& e) {
          LOG(WARNING) << "releasing migration lock: " << e.what();
        }
      }
    } unlock{conn};

    std::set<int> done;
    {
      pqxx::work w(conn);
      w.exec(
          "CREATE TABLE IF NOT EXISTS schema_migrations ("
          " version INT PRIMARY KEY, name TEXT NOT NULL,"
          " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())");
      for (const auto& row : w.exec("SELECT version FROM schema_migrations")) {
        done.insert(row[0].as<int>());
      }
      w.commit();
    }
    for (const Migration& m : migrations_) {
      if (done.count(m.version)) continue;
      try {
        pqxx::work w(conn);
        w.exec(m.sql);
        w.exec_params("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version,
                      m.name);
        w.commit();
      } catch (const pqxx::broken_connection&) {
        throw;
      } catch (const std::exception& e) {
        absl::Status s = PgPool::StatusFromException(e);
        if (absl::IsUnavailable(s)) return s;
        return absl::FailedPreconditionError("migration " + m.name + " failed: " +
                                             std::string(s.message()));
      }
      LOG(INFO) << "applied migration " << m.name;
      result.applied.push_back(m.name);
      done.insert(m.version);
    }
    result.current_version = done.empty() ? 0 : *done.rbegin();
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return result;
}

}  // namespace sluice
