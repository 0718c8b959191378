// Every statement of the migrator (Migrator) by name; the migrations
// themselves are db/migrations/*.sql. The lock key is lock_keys::kMigration,
// always bound.
#ifndef SLUICE_SERVER_STORE_MIGRATOR_SQL_H_
#define SLUICE_SERVER_STORE_MIGRATOR_SQL_H_

namespace sluice::migrator_sql {

// A session lock, held for the whole run. $1 lock key.
inline constexpr char kLock[] = "SELECT pg_advisory_lock($1)";
// $1 lock key.
inline constexpr char kUnlock[] = "SELECT pg_advisory_unlock($1)";

// The bookkeeping table exists before any migration can be recorded in it.
inline constexpr char kCreateMigrationsTable[] = R"sql(
CREATE TABLE IF NOT EXISTS schema_migrations (
  version INT PRIMARY KEY, name TEXT NOT NULL,
  applied_at TIMESTAMPTZ NOT NULL DEFAULT now()))sql";

inline constexpr char kAppliedVersions[] = "SELECT version FROM schema_migrations";

// $1 version, $2 name.
inline constexpr char kRecordMigration[] =
    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)";

// After every run: the leader fence (0015_leader.sql) on every table,
// including those later migrations created. A no-op before 0015.
inline constexpr char kInstallFences[] = R"sql(
SELECT CASE WHEN to_regproc('sluice_install_fences') IS NULL THEN 0
            ELSE sluice_install_fences() END)sql";

}  // namespace sluice::migrator_sql

#endif  // SLUICE_SERVER_STORE_MIGRATOR_SQL_H_
