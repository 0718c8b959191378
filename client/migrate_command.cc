// sluicectl migrate: applies the embedded migrations directly when a DSN is
// given (before any coordinator runs, e.g. a Helm pre-install hook), or asks
// the coordinator to do it.
#include <gflags/gflags.h>

#include <iostream>

#include "client/cli.h"
#include "common/env_flags.h"
#include "db/migrations.h"
#include "server/store/migrator.h"

SLUICE_DEFINE_SECRET(dsn, "migrate: PostgreSQL DSN to migrate directly (else via the coordinator)");

namespace sluice::cli {

int CmdMigrate(Context& ctx) {
  std::vector<std::string> applied;
  int version = 0;
  if (!FLAGS_dsn.empty()) {
    PgPool::Options opts;
    opts.dsn = FLAGS_dsn;
    opts.size = 1;
    PgPool pool(opts);
    Migrator migrator(&pool, EmbeddedMigrations());
    auto result = migrator.Apply();
    if (!result.ok()) {
      std::cerr << "sluicectl: migrate: " << result.status() << std::endl;
      return 1;
    }
    applied = result->applied;
    version = result->current_version;
  } else {
    v1::MigrateResponse resp;
    grpc::ClientContext call;
    Prepare(ctx, &call, 120000);
    grpc::Status s = ctx.admin->Migrate(&call, v1::MigrateRequest(), &resp);
    if (!s.ok()) return RpcError("migrate", s);
    applied.assign(resp.applied().begin(), resp.applied().end());
    version = resp.current_version();
  }
  if (ctx.json) {
    PrintJson({{"applied", applied}, {"current_version", version}});
  } else {
    for (const auto& name : applied) std::cout << "applied " << name << std::endl;
    std::cout << "schema at version " << version << std::endl;
  }
  return 0;
}

}  // namespace sluice::cli
