#include "server/store/migrator.h"

#include <glog/logging.h>

#include <set>

#include "server/store/lock_keys.h"
#include "server/store/migrator_sql.h"

namespace sluice {

absl::StatusOr<MigrationResult> Migrator::Apply() {
  MigrationResult result;
  absl::Status status = pool_->Run([&](pqxx::connection& conn) -> absl::Status {
    {
      pqxx::nontransaction nt(conn);
      nt.exec_params(migrator_sql::kLock, lock_keys::kMigration);
    }
    // Session-level lock: release it whatever happens below.
    struct Unlock {
      pqxx::connection& c;
      ~Unlock() {
        try {
          pqxx::nontransaction nt(c);
          nt.exec_params(migrator_sql::kUnlock, lock_keys::kMigration);
        } catch (const std::exception& e) {
          LOG(WARNING) << "releasing migration lock: " << e.what();
        }
      }
    } unlock{conn};

    std::set<int> done;
    {
      pqxx::work w(conn);
      w.exec(migrator_sql::kCreateMigrationsTable);
      for (const auto& row : w.exec(migrator_sql::kAppliedVersions)) {
        done.insert(row[0].as<int>());
      }
      w.commit();
    }
    for (const Migration& m : migrations_) {
      if (done.count(m.version)) continue;
      try {
        pqxx::work w(conn);
        w.exec(m.sql);
        w.exec_params(migrator_sql::kRecordMigration, m.version, m.name);
        w.commit();
      } catch (const pqxx::broken_connection&) {
        throw;
      } catch (const std::exception& e) {
        absl::Status s = PgPool::StatusFromException(e);
        if (absl::IsUnavailable(s)) return s;
        return absl::FailedPreconditionError("migration " + m.name +
                                             " failed: " + std::string(s.message()));
      }
      LOG(INFO) << "applied migration " << m.name;
      result.applied.push_back(m.name);
      done.insert(m.version);
    }
    {
      pqxx::work w(conn);
      const int fenced = w.exec1(migrator_sql::kInstallFences)[0].as<int>();
      w.commit();
      if (fenced > 0) LOG(INFO) << "leader fence put on " << fenced << " table(s)";
    }
    result.current_version = done.empty() ? 0 : *done.rbegin();
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return result;
}

}  // namespace sluice
