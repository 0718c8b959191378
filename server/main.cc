// sluice-coordinator: flags and environment in, a running Coordinator out.
#include <gflags/gflags.h>
#include <glog/logging.h>

#include "absl/time/time.h"
#include "common/env_flags.h"
#include "common/grpc_security.h"
#include "common/secret_box.h"
#include "common/shutdown.h"
#include "server/leader/coordinator_node.h"
#include "server/oauth/oauth_flags.h"
#include "server/oauth/service_token.h"
#include "server/throttle/header_parser.h"

DEFINE_string(listen, "0.0.0.0:50051", "gRPC listen address");
SLUICE_DEFINE_SECRET(dsn, "PostgreSQL connection string (libpq format or URI)");
DEFINE_int32(db_pool_size, 16, "PostgreSQL connections");
DEFINE_bool(migrate, true, "apply pending schema migrations at start-up");
DEFINE_bool(synchronous_claims, false,
            "claims wait for their commit to reach disk (off: a lease lost in a "
            "PostgreSQL crash is run again, nothing is stored twice)");
SLUICE_DEFINE_SECRET(auth_token,
                     "bearer token holding every role: the development/compatibility credential "
                     "(prefer --auth_file's roles)");
DEFINE_string(auth_file, "",
              "credentials and their roles (agent, operator, team), one per line as NAME ROLE "
              "sha256:HEX [upstreams=..] [routes=..]; e.g. a mounted Secret");
DEFINE_bool(allow_unauthenticated, false,
            "listen beyond loopback with no credential at all (anyone reaching the port may "
            "do anything)");
SLUICE_DEFINE_SECRET(token_key,
                     "key sealing the stored ESI tokens: 64 hex digits (openssl rand -hex 32); "
                     "without one, tokens are neither stored nor handed out");
SLUICE_DEFINE_SECRET(token_key_previous,
                     "the key tokens were sealed under before --token_key (rotation): read only, "
                     "every token is sealed again under the current key at start-up");
DEFINE_string(tls_cert, "", "PEM certificate for TLS (with --tls_key)");
DEFINE_string(tls_key, "", "PEM private key for TLS");
DEFINE_int32(default_lease_s, 60, "task lease when the agent asks for none");
DEFINE_int32(max_attempts, 10, "transient failures before a task is dead");
DEFINE_int32(bad_body_retry_s, 60,
             "an answer that is not JSON is fetched once more, no sooner than this");
DEFINE_int32(fresh_for_s, 3600, "discovered entities refreshed this recently are not queued again");
DEFINE_double(throttle_margin, 0.01, "share of every learned budget the throttler never grants");
DEFINE_int32(throttle_lease_ttl_ms, 2000, "how long granted rate tokens may be spent");
DEFINE_int32(throttle_persist_ms, 500, "how often changed throttler state is saved");
DEFINE_int32(throttle_max_lease_calls, 100,
             "most rate tokens one LeaseTokens call grants (1..1000): more for clients that "
             "decide locally at high rates, fewer to spread budgets over more holders");
DEFINE_string(esi_openapi_file, "",
              "ESI OpenAPI document (JSON) whose x-rate-limit extensions seed route -> group "
              "mappings before any call; re-read when it changes (empty: learn from headers)");
DEFINE_string(throttle_esi_ungrouped_limit, "",
              "cap on calls of an ESI route outside any rate-limit group, per caller, as "
              "calls/window, e.g. 300/1m (empty: the error limit alone governs them, as on ESI)");
DEFINE_string(throttle_external_restriction_cap, "15m",
              "longest restriction a caller other than an agent (ThrottlerService.Report) can "
              "impose on a budget, e.g. 15m or 90s; never beyond what the upstream announced");
DEFINE_int32(drain_s, 15, "on SIGTERM, how long in-flight calls may take to finish");
DEFINE_bool(jobs_enabled, true, "run the periodic jobs (daily ESI sequence, snapshots)");
DEFINE_int32(jobs_initial_delay_s, 60, "from start-up to a job's first run (if it is due)");

DEFINE_int32(
    election_poll_ms, 500,
    "a standby tries the leader lock this often: the takeover's delay after a leader dies");
DEFINE_int32(election_lost_after_ms, 3000,
             "a leader whose lock session has not answered for this long stops serving at once");
DEFINE_string(ops_listen, "127.0.0.1:9090",
              "operations HTTP listener: /metrics (Prometheus), /healthz, /readyz and a dashboard "
              "page at /; empty = off");
DEFINE_bool(ops_require_operator, false,
            "the ops listener's pages but /healthz and /readyz need an operator credential "
            "(Authorization: Bearer)");
DEFINE_int32(ops_history_interval_ms, 10000,
             "the dashboard's charts: how often the ops snapshot is sampled into its in-memory "
             "ring");
DEFINE_int32(ops_history_points, 8640,
             "the dashboard's charts: samples kept in memory (8640 at 10 s: a day)");

int main(int argc, char** argv) {
  std::vector<std::pair<std::string, std::string>> env = {
      {"listen", "SLUICE_LISTEN"},
      {"ops_listen", "SLUICE_OPS_LISTEN"},
      {"dsn", "SLUICE_DSN"},
      {"db_pool_size", "SLUICE_DB_POOL_SIZE"},
      {"migrate", "SLUICE_MIGRATE"},
      {"auth_token", "SLUICE_AUTH_TOKEN"},
      {"auth_file", "SLUICE_AUTH_FILE"},
      {"allow_unauthenticated", "SLUICE_ALLOW_UNAUTHENTICATED"},
      {"token_key", "SLUICE_TOKEN_KEY"},
      {"token_key_previous", "SLUICE_TOKEN_KEY_PREVIOUS"},
      {"ops_require_operator", "SLUICE_OPS_REQUIRE_OPERATOR"},
      {"ops_history_interval_ms", "SLUICE_OPS_HISTORY_INTERVAL_MS"},
      {"ops_history_points", "SLUICE_OPS_HISTORY_POINTS"},
      {"tls_cert", "SLUICE_TLS_CERT"},
      {"tls_key", "SLUICE_TLS_KEY"},
      {"default_lease_s", "SLUICE_DEFAULT_LEASE_S"},
      {"max_attempts", "SLUICE_MAX_ATTEMPTS"},
      {"bad_body_retry_s", "SLUICE_BAD_BODY_RETRY_S"},
      {"fresh_for_s", "SLUICE_FRESH_FOR_S"},
      {"throttle_margin", "SLUICE_THROTTLE_MARGIN"},
      {"throttle_lease_ttl_ms", "SLUICE_THROTTLE_LEASE_TTL_MS"},
      {"throttle_persist_ms", "SLUICE_THROTTLE_PERSIST_MS"},
      {"throttle_max_lease_calls", "SLUICE_THROTTLE_MAX_LEASE_CALLS"},
      {"esi_openapi_file", "SLUICE_ESI_OPENAPI_FILE"},
      {"throttle_esi_ungrouped_limit", "SLUICE_THROTTLE_ESI_UNGROUPED_LIMIT"},
      {"throttle_external_restriction_cap", "SLUICE_THROTTLE_EXTERNAL_RESTRICTION_CAP"},
      {"drain_s", "SLUICE_DRAIN_S"},
      {"jobs_enabled", "SLUICE_JOBS_ENABLED"},
      {"jobs_initial_delay_s", "SLUICE_JOBS_INITIAL_DELAY_S"},
      {"election_poll_ms", "SLUICE_ELECTION_POLL_MS"},
      {"election_lost_after_ms", "SLUICE_ELECTION_LOST_AFTER_MS"}};
  for (const auto& pair : sluice::WorkflowFlagEnv()) env.push_back(pair);
  for (const auto& pair : sluice::oauth::OAuthFlagEnv()) env.push_back(pair);
  std::vector<std::string> secrets = {"dsn", "auth_token", "token_key", "token_key_previous"};
  for (const auto& flag : sluice::oauth::OAuthSecretFlags()) secrets.push_back(flag);
  sluice::InitProcess(&argc, &argv, "Sluice coordinator: task queue, throttler, checkpoints", env,
                      secrets);
  if (FLAGS_dsn.empty()) {
    LOG(ERROR) << "no database: set --dsn or SLUICE_DSN";
    return 2;
  }
  const bool has_credentials = !FLAGS_auth_token.empty() || !FLAGS_auth_file.empty();
  if (absl::Status s = sluice::CheckListenIsProtected(FLAGS_listen, has_credentials,
                                                      FLAGS_allow_unauthenticated);
      !s.ok()) {
    LOG(ERROR) << s.message();
    return 2;
  }
  if (FLAGS_ops_require_operator && !has_credentials) {
    LOG(ERROR) << "--ops_require_operator needs credentials (--auth_file or --auth_token_file)";
    return 2;
  }
  std::shared_ptr<const sluice::SecretBox> token_box;
  if (!FLAGS_token_key.empty()) {
    auto box = sluice::SecretBox::FromKeyTexts(FLAGS_token_key, FLAGS_token_key_previous);
    if (!box.ok()) {
      LOG(ERROR) << "--token_key: " << box.status().message();
      return 2;
    }
    token_box = std::make_shared<const sluice::SecretBox>(std::move(*box));
  } else if (!FLAGS_token_key_previous.empty()) {
    LOG(ERROR) << "--token_key_previous_file needs --token_key_file (the current key)";
    return 2;
  }
  if (FLAGS_bad_body_retry_s < 0) {
    LOG(ERROR) << "--bad_body_retry_s must not be negative";
    return 2;
  }
  if (FLAGS_election_poll_ms <= 0 || FLAGS_election_lost_after_ms <= 0) {
    LOG(ERROR) << "--election_poll_ms and --election_lost_after_ms must be positive";
    return 2;
  }
  if (FLAGS_jobs_initial_delay_s < 0) {
    LOG(ERROR) << "--jobs_initial_delay_s must not be negative";
    return 2;
  }
  sluice::InstallShutdownHandlers();

  sluice::CoordinatorNodeOptions node_options;
  sluice::CoordinatorOptions& options = node_options.coordinator;
  options.listen = FLAGS_listen;
  options.dsn = FLAGS_dsn;
  options.db_pool_size = FLAGS_db_pool_size;
  options.migrate_on_start = FLAGS_migrate;
  options.synchronous_claims = FLAGS_synchronous_claims;
  options.auth_token = FLAGS_auth_token;
  options.auth_file = FLAGS_auth_file;
  options.ops_require_operator = FLAGS_ops_require_operator;
  if (FLAGS_ops_history_interval_ms < 100 || FLAGS_ops_history_points < 1 ||
      FLAGS_ops_history_points > 100000) {
    LOG(ERROR) << "--ops_history_interval_ms must be at least 100 and --ops_history_points "
                  "between 1 and 100000";
    return 2;
  }
  options.ops_history_interval = std::chrono::milliseconds(FLAGS_ops_history_interval_ms);
  options.ops_history_points = static_cast<size_t>(FLAGS_ops_history_points);
  options.tls_cert = FLAGS_tls_cert;
  options.tls_key = FLAGS_tls_key;
  options.queue.default_lease = std::chrono::seconds(FLAGS_default_lease_s);
  options.queue.retry.max_attempts = FLAGS_max_attempts;
  options.queue.retry.bad_body_retry_after = std::chrono::seconds(FLAGS_bad_body_retry_s);
  options.queue.fresh_for = std::chrono::seconds(FLAGS_fresh_for_s);
  options.throttle.margin_fraction = FLAGS_throttle_margin;
  options.throttle.lease_ttl = std::chrono::milliseconds(FLAGS_throttle_lease_ttl_ms);
  options.throttle_persist_interval = std::chrono::milliseconds(FLAGS_throttle_persist_ms);
  if (FLAGS_throttle_max_lease_calls < 1 || FLAGS_throttle_max_lease_calls > 1000) {
    LOG(ERROR) << "--throttle_max_lease_calls must be between 1 and 1000";
    return 2;
  }
  options.throttle.max_lease_calls = FLAGS_throttle_max_lease_calls;
  options.esi_openapi_file = FLAGS_esi_openapi_file;
  if (!FLAGS_throttle_esi_ungrouped_limit.empty()) {
    auto cap = sluice::throttle::ParseEsiLimit(FLAGS_throttle_esi_ungrouped_limit);
    if (!cap.ok() || cap->first <= 0) {
      LOG(ERROR) << "--throttle_esi_ungrouped_limit must look like 300/1m: "
                 << FLAGS_throttle_esi_ungrouped_limit;
      return 2;
    }
    options.throttle.esi_ungrouped = sluice::throttle::WindowLimit{cap->first, cap->second};
  }
  absl::Duration external_cap;
  if (!absl::ParseDuration(FLAGS_throttle_external_restriction_cap, &external_cap) ||
      external_cap <= absl::ZeroDuration()) {
    LOG(ERROR) << "--throttle_external_restriction_cap must be a positive duration like 15m: "
               << FLAGS_throttle_external_restriction_cap;
    return 2;
  }
  options.throttle.external_restriction_cap =
      std::chrono::duration_cast<sluice::Duration>(absl::ToChronoNanoseconds(external_cap));
  options.scheduler.enabled = FLAGS_jobs_enabled;
  options.scheduler.initial_delay = std::chrono::seconds(FLAGS_jobs_initial_delay_s);
  options.workflows = sluice::WorkflowOptionsFromFlags();
  options.workflows.killmails.token_box = token_box;
  absl::StatusOr<sluice::oauth::OAuthClients> oauth = sluice::oauth::OAuthClientsFromFlags();
  if (!oauth.ok()) {
    LOG(ERROR) << oauth.status().message();
    return 2;
  }
  options.workflows.killmails.eve_sso = oauth->eve_sso;
  options.workflows.killmails.refresher.margin =
      std::chrono::seconds(sluice::oauth::EveSsoRefreshMarginSeconds());
  if (options.workflows.streams.enabled) {
    if (oauth->poe == nullptr) {
      LOG(ERROR) << "--poe_streams_enabled needs a GGG OAuth client: --poe_client_id and "
                    "--poe_client_secret_file (client_credentials grant, scopes service:psapi "
                    "and service:cxapi; see the README, \"Pointing Sluice at the real ESI and "
                    "PoE\")";
      return 2;
    }
    options.workflows.streams.poe_token = std::make_shared<sluice::oauth::ServiceTokenSource>(
        oauth->poe, sluice::PoeStreamScopes(), sluice::SystemClock::Get());
  }
  options.ops_listen = FLAGS_ops_listen;

  node_options.election.poll_interval = std::chrono::milliseconds(FLAGS_election_poll_ms);
  node_options.election.lost_after = std::chrono::milliseconds(FLAGS_election_lost_after_ms);

  // Any number of coordinators may run against one database: this one stands
  // by until it leads (server/leader/coordinator_node.h).
  sluice::CoordinatorNode node(node_options);
  absl::Status started = node.Start();
  if (!started.ok()) {
    LOG(ERROR) << "coordinator did not start: " << started;
    return 1;
  }
  while (!sluice::WaitForShutdown(std::chrono::milliseconds(500))) {
    if (absl::Status fatal = node.fatal(); !fatal.ok()) {
      LOG(ERROR) << "coordinator cannot lead: " << fatal;
      node.Shutdown(std::chrono::milliseconds(0));
      return 1;
    }
  }
  node.Shutdown(std::chrono::seconds(FLAGS_drain_s));
  return 0;
}
