// MigratedPool: a connection pool on a test's database with the schema in
// place (every embedded migration applied), the set-up of every test that
// talks to the store's tables.
#ifndef SLUICE_TESTS_SUPPORT_MIGRATED_POOL_H_
#define SLUICE_TESTS_SUPPORT_MIGRATED_POOL_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/store/pg_pool.h"

namespace sluice::testing {

// A pool of `options.size` connections to `options.dsn`, migrated. The
// error of a migration that fails, with its name.
absl::StatusOr<std::unique_ptr<PgPool>> MigratedPool(const PgPool::Options& options);
absl::StatusOr<std::unique_ptr<PgPool>> MigratedPool(const std::string& dsn, int size);

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_SUPPORT_MIGRATED_POOL_H_
