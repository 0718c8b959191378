// Migrator applies the embedded schema migrations (db/migrations/*.sql) in
// version order, each in its own transaction, recording each in
// schema_migrations. Re-running is a no-op. A PostgreSQL advisory lock keeps
// two coordinators starting at once from racing.
//
// Thread-safety: stateless apart from the pool; safe from any thread.
#ifndef SLUICE_SERVER_STORE_MIGRATOR_H_
#define SLUICE_SERVER_STORE_MIGRATOR_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "db/migrations.h"
#include "server/store/pg_pool.h"

namespace sluice {

struct MigrationResult {
  std::vector<std::string> applied;  // names applied by this call
  int current_version = 0;
};

class Migrator {
 public:
  // Does not take ownership of pool.
  Migrator(PgPool* pool, const std::vector<Migration>& migrations)
      : pool_(pool), migrations_(migrations) {}

  // On failure the status names the migration and carries the server's
  // message; earlier migrations stay applied, the failed one leaves nothing.
  absl::StatusOr<MigrationResult> Apply();

 private:
  PgPool* pool_;
  const std::vector<Migration>& migrations_;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_STORE_MIGRATOR_H_
