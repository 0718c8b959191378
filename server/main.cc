// sluice-coordinator: flags and environment in, a running Coordinator out.
#include <gflags/gflags.h>
#include <glog/logging.h>

#include "common/env_flags.h"
#include "common/shutdown.h"
#include "server/coordinator.h"

DEFINE_string(listen, "0.0.0.0:50051", "gRPC listen address");
DEFINE_string(dsn, "", "PostgreSQL connection string (libpq format or URI)");
DEFINE_int32(db_pool_size, 16, "PostgreSQL connections");
DEFINE_bool(migrate, true, "apply pending schema migrations at start-up");
DEFINE_string(auth_token, "", "bearer token agents and clients must present (empty: none)");
DEFINE_string(tls_cert, "", "PEM certificate for TLS (with --tls_key)");
DEFINE_string(tls_key, "", "PEM private key for TLS");
DEFINE_int32(default_lease_s, 60, "task lease when the agent asks for none");
DEFINE_int32(max_attempts, 10, "transient failures before a task is dead");
DEFINE_int32(fresh_for_s, 3600, "discovered entities refreshed this recently are not queued again");
DEFINE_double(throttle_margin, 0.01, "share of every learned budget the throttler never grants");
DEFINE_int32(throttle_lease_ttl_ms, 2000, "how long granted rate tokens may be spent");
DEFINE_int32(throttle_persist_ms, 500, "how often changed throttler state is saved");
DEFINE_int32(drain_s, 15, "on SIGTERM, how long in-flight calls may take to finish");

int main(int argc, char** argv) {
  sluice::InitProcess(&argc, &argv, "Sluice coordinator: task queue, throttler, checkpoints",
                      {{"listen", "SLUICE_LISTEN"},
                       {"dsn", "SLUICE_DSN"},
                       {"db_pool_size", "SLUICE_DB_POOL_SIZE"},
                       {"migrate", "SLUICE_MIGRATE"},
                       {"auth_token", "SLUICE_AUTH_TOKEN"},
                       {"tls_cert", "SLUICE_TLS_CERT"},
                       {"tls_key", "SLUICE_TLS_KEY"},
                       {"default_lease_s", "SLUICE_DEFAULT_LEASE_S"},
                       {"max_attempts", "SLUICE_MAX_ATTEMPTS"},
                       {"fresh_for_s", "SLUICE_FRESH_FOR_S"},
                       {"throttle_margin", "SLUICE_THROTTLE_MARGIN"},
                       {"throttle_lease_ttl_ms", "SLUICE_THROTTLE_LEASE_TTL_MS"},
                       {"throttle_persist_ms", "SLUICE_THROTTLE_PERSIST_MS"},
                       {"drain_s", "SLUICE_DRAIN_S"}});
  if (FLAGS_dsn.empty()) {
    LOG(ERROR) << "no database: set --dsn or SLUICE_DSN";
    return 2;
  }
  sluice::InstallShutdownHandlers();

  sluice::CoordinatorOptions options;
  options.listen = FLAGS_listen;
  options.dsn = FLAGS_dsn;
  options.db_pool_size = FLAGS_db_pool_size;
  options.migrate_on_start = FLAGS_migrate;
  options.auth_token = FLAGS_auth_token;
  options.tls_cert = FLAGS_tls_cert;
  options.tls_key = FLAGS_tls_key;
  options.queue.default_lease = std::chrono::seconds(FLAGS_default_lease_s);
  options.queue.max_attempts = FLAGS_max_attempts;
  options.queue.fresh_for = std::chrono::seconds(FLAGS_fresh_for_s);
  options.throttle.margin_fraction = FLAGS_throttle_margin;
  options.throttle.lease_ttl = std::chrono::milliseconds(FLAGS_throttle_lease_ttl_ms);
  options.throttle_persist_interval = std::chrono::milliseconds(FLAGS_throttle_persist_ms);

  sluice::Coordinator coordinator(options);
  absl::Status started = coordinator.Start();
  if (!started.ok()) {
    LOG(ERROR) << "coordinator did not start: " << started;
    return 1;
  }
  sluice::WaitForShutdown();
  coordinator.Shutdown(std::chrono::seconds(FLAGS_drain_s));
  return 0;
}
