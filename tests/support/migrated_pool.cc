#include "tests/support/migrated_pool.h"

#include "db/migrations.h"
#include "server/store/migrator.h"

namespace sluice::testing {

absl::StatusOr<std::unique_ptr<PgPool>> MigratedPool(const PgPool::Options& options) {
  auto pool = std::make_unique<PgPool>(options);
  absl::StatusOr<MigrationResult> applied = Migrator(pool.get(), EmbeddedMigrations()).Apply();
  if (!applied.ok()) return applied.status();
  return pool;
}

absl::StatusOr<std::unique_ptr<PgPool>> MigratedPool(const std::string& dsn, int size) {
  PgPool::Options options;
  options.dsn = dsn;
  options.size = size;
  return MigratedPool(options);
}

}  // namespace sluice::testing
