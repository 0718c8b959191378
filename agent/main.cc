// sluice-agent: leases tasks and rate tokens from the coordinator, calls the
// upstream, reports results. Only flag parsing and wiring live here.
#include <gflags/gflags.h>
#include <glog/logging.h>

#include <chrono>

#include "agent/agent_builder.h"
#include "agent/ops/agent_metrics.h"
#include "common/env_flags.h"
#include "common/metrics/ops_listener.h"
#include "common/logging/log_context.h"
#include "common/shutdown.h"

DEFINE_string(coordinator, "localhost:50051", "Coordinator gRPC address (host:port)");
SLUICE_DEFINE_SECRET(auth_token, "Bearer token the coordinator expects (an agent credential)");
DEFINE_string(tls_ca, "", "PEM CA file; enables TLS to the coordinator");
DEFINE_int32(workers, 4, "Concurrent tasks (worker threads)");
DEFINE_string(agent_id, "", "Agent identity shown by the coordinator; default host:pid");
DEFINE_string(contact, "", "Operator contact for the upstream User-Agent, e.g. ops@example.org");
SLUICE_DEFINE_SECRET(esi_token, "ESI SSO bearer token; enables corporation_members");
DEFINE_string(upstream_esi, "https://esi.evetech.net/latest", "ESI base URL");
DEFINE_string(upstream_poe, "https://api.pathofexile.com", "Path of Exile API base URL");
DEFINE_string(bind_address, "",
              "Source address of upstream connections (an IP of this host); also the egress "
              "when --egress is not set");
DEFINE_string(egress, "",
              "Address the upstream sees this agent's calls come from (per-address budgets); "
              "default --bind_address; agents behind one NAT address must all name it");
DEFINE_int32(token_wait_ms, 250,
             "Longest wait for a task's first rate token; a task whose budget has no room goes "
             "back to the queue until it has, and the worker takes another");
DEFINE_int32(max_tasks, 0,
             "Tasks per LeaseTasks call; 0 = adaptive: a quarter second of work at the pace "
             "tasks finish here, at least 2 x workers, at most 1000. The next batch is leased "
             "while one may still be waiting");
DEFINE_int32(complete_batch_max, 300,
             "Completions per CompleteTasks call (1..1000): a batch is sent once this many wait");
DEFINE_int32(complete_coalesce_ms, 5,
             "How long the first completion of a batch waits for others before it is sent, "
             "milliseconds; 0 = one CompleteTask call per task");
DEFINE_int32(lease_duration_s, 60, "Task lease duration, seconds");
DEFINE_int32(lease_wait_ms, 2000, "LeaseTasks long-poll wait, milliseconds");
DEFINE_int32(acquire_timeout_s, 300,
             "Longest wait for the rate token of a later call of a multi-call task (next page) "
             "before the task is given back");
DEFINE_int32(drain_timeout_s, 20, "On SIGTERM, how long results may retry before exit");
DEFINE_int32(http_connect_timeout_ms, 5000, "Upstream connect timeout, milliseconds");
DEFINE_int32(http_timeout_ms, 30000, "Upstream whole-request timeout, milliseconds");
DEFINE_int32(token_batch, 0, "Rate tokens per LeaseTokens call; 0 = 2 x workers");
DEFINE_int32(token_arm_chunk, 1,
             "Rate tokens armed (ArmTokens) per coordinator call before their upstream calls "
             "(0..1000); 0 = no arming: tokens of a crashed agent are charged as spent");
DEFINE_int32(rpc_timeout_ms, 10000, "Coordinator call deadline, milliseconds");
DEFINE_int32(result_retry_window_s, 600,
             "How long a result is retried while the coordinator is unreachable");
DEFINE_string(ops_listen, "",
              "Operations HTTP listener: /metrics (Prometheus) and /healthz, e.g. "
              "127.0.0.1:9091 (0.0.0.0:9091 in a pod); empty = off (the default, so several "
              "agents on one host never fight over a port)");

int main(int argc, char** argv) {
  sluice::InitProcess(&argc, &argv,
                      "sluice-agent: leases tasks and rate tokens from the Sluice coordinator "
                      "and syncs them from the upstream APIs",
                      {{"coordinator", "SLUICE_COORDINATOR"},
                       {"auth_token", "SLUICE_AUTH_TOKEN"},
                       {"tls_ca", "SLUICE_TLS_CA"},
                       {"workers", "WORKER_COUNT"},
                       {"agent_id", "SLUICE_AGENT_ID"},
                       {"contact", "SLUICE_CONTACT"},
                       {"esi_token", "ESI_BEARER_TOKEN"},
                       {"upstream_esi", "SLUICE_UPSTREAM_ESI"},
                       {"upstream_poe", "SLUICE_UPSTREAM_POE"},
                       {"egress", "SLUICE_EGRESS"},
                       {"bind_address", "SLUICE_BIND_ADDRESS"},
                       {"token_wait_ms", "SLUICE_TOKEN_WAIT_MS"},
                       {"max_tasks", "SLUICE_MAX_TASKS"},
                       {"complete_batch_max", "SLUICE_COMPLETE_BATCH_MAX"},
                       {"complete_coalesce_ms", "SLUICE_COMPLETE_COALESCE_MS"},
                       {"lease_duration_s", "SLUICE_LEASE_DURATION_S"},
                       {"lease_wait_ms", "SLUICE_LEASE_WAIT_MS"},
                       {"acquire_timeout_s", "SLUICE_ACQUIRE_TIMEOUT_S"},
                       {"drain_timeout_s", "SLUICE_DRAIN_TIMEOUT_S"},
                       {"http_connect_timeout_ms", "SLUICE_HTTP_CONNECT_TIMEOUT_MS"},
                       {"http_timeout_ms", "SLUICE_HTTP_TIMEOUT_MS"},
                       {"token_batch", "SLUICE_TOKEN_BATCH"},
                       {"token_arm_chunk", "SLUICE_TOKEN_ARM_CHUNK"},
                       {"rpc_timeout_ms", "SLUICE_RPC_TIMEOUT_MS"},
                       {"result_retry_window_s", "SLUICE_RESULT_RETRY_WINDOW_S"},
                       {"ops_listen", "SLUICE_AGENT_OPS_LISTEN"}},
                      {"auth_token", "esi_token"});
  sluice::InstallShutdownHandlers();

  using std::chrono::milliseconds;
  using std::chrono::seconds;
  sluice::agent::AgentConfig config;
  config.coordinator = FLAGS_coordinator;
  config.auth_token = FLAGS_auth_token;
  config.tls_ca = FLAGS_tls_ca;
  config.contact = FLAGS_contact;
  config.egress = FLAGS_egress;
  config.bind_address = FLAGS_bind_address;
  config.handlers.esi_base_url = FLAGS_upstream_esi;
  config.handlers.poe_base_url = FLAGS_upstream_poe;
  config.handlers.esi_token = FLAGS_esi_token;
  config.agent.agent_id = FLAGS_agent_id.empty() ? sluice::agent::DefaultAgentId() : FLAGS_agent_id;
  // Every log line of the process names the agent, from the first on.
  sluice::logging::LogIds ids;
  ids.agent_id = config.agent.agent_id;
  sluice::logging::SetProcessLogIds(ids);
  config.agent.workers = FLAGS_workers;
  config.agent.max_tasks = FLAGS_max_tasks;
  config.agent.complete_batch_max = FLAGS_complete_batch_max;
  config.agent.complete_coalesce = milliseconds(FLAGS_complete_coalesce_ms);
  config.agent.lease_duration = seconds(FLAGS_lease_duration_s);
  config.agent.lease_wait = milliseconds(FLAGS_lease_wait_ms);
  config.agent.acquire_timeout = seconds(FLAGS_acquire_timeout_s);
  config.agent.token_wait = milliseconds(FLAGS_token_wait_ms);
  config.agent.drain_timeout = seconds(FLAGS_drain_timeout_s);
  config.http_connect_timeout = milliseconds(FLAGS_http_connect_timeout_ms);
  config.http_timeout = milliseconds(FLAGS_http_timeout_ms);
  config.token_batch = FLAGS_token_batch;
  config.token_arm_chunk = FLAGS_token_arm_chunk;
  config.rpc_timeout = milliseconds(FLAGS_rpc_timeout_ms);
  config.result_retry_window = seconds(FLAGS_result_retry_window_s);

  // Before the agent (which reports to it), gone after it.
  sluice::agent::AgentMetrics metrics;
  if (!FLAGS_ops_listen.empty()) config.agent.observer = &metrics;
  auto agent = sluice::agent::BuildAgent(std::move(config));
  if (!agent.ok()) {
    LOG(ERROR) << "cannot start: " << agent.status();
    return 1;
  }
  sluice::metrics::OpsListener ops;
  if (!FLAGS_ops_listen.empty()) {
    metrics.SetStatsSource([a = agent->get()] { return a->stats(); });
    for (auto& c : metrics.Collectables()) ops.AddMetrics(std::move(c));
    if (auto bound = ops.Start(FLAGS_ops_listen, "agent ops endpoint (/metrics, /healthz)");
        !bound.ok()) {
      LOG(ERROR) << "cannot start: " << bound.status();
      return 1;
    }
  }
  if (absl::Status started = (*agent)->Start(); !started.ok()) {
    LOG(ERROR) << "cannot start: " << started;
    return 1;
  }
  sluice::WaitForShutdown();
  (*agent)->Stop();
  ops.Stop();
  return 0;
}
