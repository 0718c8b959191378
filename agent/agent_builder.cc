#include "agent/agent_builder.h"

#include <glog/logging.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "agent/coordinator/coordinator_client.h"
#include "agent/handlers/all_handlers.h"
#include "agent/http/curl_client.h"
#include "agent/throttle/coordinator_rate_gate.h"
#include "common/grpc_security.h"
#include "sluice/v1/agent.grpc.pb.h"
#include "sluice/v1/throttle.grpc.pb.h"

namespace sluice::agent {

std::string DefaultAgentId() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return absl::StrCat(host[0] != '\0' ? host : "unknown-host", ":", getpid());
}

absl::StatusOr<std::unique_ptr<Agent>> BuildAgent(AgentConfig config,
                                                  const HandlerRegistry& registry) {
  if (config.coordinator.empty()) return absl::InvalidArgumentError("coordinator address is empty");
  if (config.agent.workers < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("worker count must be at least 1, got ", config.agent.workers));
  }
  if (config.agent.complete_batch_max < 1 || config.agent.complete_batch_max > 1000) {
    return absl::InvalidArgumentError(absl::StrCat("complete_batch_max must be in 1..1000, got ",
                                                   config.agent.complete_batch_max));
  }
  if (config.token_arm_chunk < 0 || config.token_arm_chunk > 1000) {
    return absl::InvalidArgumentError(
        absl::StrCat("token_arm_chunk must be in 0..1000, got ", config.token_arm_chunk));
  }
  if (config.agent.complete_coalesce < Duration::zero()) {
    return absl::InvalidArgumentError("complete_coalesce must not be negative");
  }
  if (!config.tls_ca.empty() && !std::ifstream(config.tls_ca)) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read TLS CA file ", config.tls_ca));
  }
  if (config.handlers.esi_base_url.empty()) {
    return absl::InvalidArgumentError("ESI upstream base URL is empty");
  }
  if (config.agent.agent_id.empty()) config.agent.agent_id = DefaultAgentId();
  if (config.contact.empty()) {
    LOG(WARNING) << "no operator contact configured (--contact / SLUICE_CONTACT); ESI and PoE "
                    "ask every client to identify a contact in its User-Agent";
  }

  config.handlers.contact = config.contact;
  HandlerSet handlers = registry.Instantiate(config.handlers);
  if (handlers.empty()) return absl::InvalidArgumentError("no task handlers are registered");

  ClientOptions rpc{config.coordinator, config.tls_ca, config.auth_token};
  std::shared_ptr<grpc::Channel> channel = MakeChannel(rpc);

  CoordinatorClientOptions client_options;
  client_options.rpc = rpc;
  client_options.rpc_timeout = config.rpc_timeout;
  client_options.result_retry_window = config.result_retry_window;
  auto tasks = std::make_unique<CoordinatorClient>(client_options,
                                                   sluice::v1::AgentService::NewStub(channel));

  CoordinatorRateGateOptions gate_options;
  gate_options.agent_id = config.agent.agent_id;
  gate_options.egress = config.egress.empty() ? config.bind_address : config.egress;
  if (gate_options.egress.empty()) {
    LOG(WARNING) << "no egress address (--egress / --bind_address): public ESI routes and per-IP "
                    "budgets are shared with every other agent that names none";
  }
  gate_options.rpc = rpc;
  gate_options.lease_batch =
      std::clamp(config.token_batch > 0 ? config.token_batch : 2 * config.agent.workers, 1, 1000);
  gate_options.safety_margin = config.token_safety_margin;
  gate_options.arm_chunk = config.token_arm_chunk;
  gate_options.rpc_timeout = std::min(config.rpc_timeout, std::chrono::milliseconds(5000));
  auto gate = std::make_unique<CoordinatorRateGate>(
      gate_options, sluice::v1::ThrottlerService::NewStub(channel), SystemClock::Get());
  gate->Start();

  CurlClientOptions curl_options;
  curl_options.user_agent = MakeUserAgent(config.contact);
  curl_options.connect_timeout = config.http_connect_timeout;
  curl_options.total_timeout = config.http_timeout;
  curl_options.bind_address = config.bind_address;
  auto upstream = std::make_unique<CurlClient>(curl_options);

  LOG(INFO) << "agent " << config.agent.agent_id << ": coordinator " << config.coordinator
            << (config.tls_ca.empty() ? " (plaintext)" : " (TLS)") << ", ESI "
            << config.handlers.esi_base_url << ", PoE " << config.handlers.poe_base_url
            << ", ESI token " << (config.handlers.esi_token.empty() ? "absent" : "present")
            << ", egress " << (gate_options.egress.empty() ? "unknown" : gate_options.egress)
            << ", User-Agent '" << curl_options.user_agent << "'";
  return std::make_unique<Agent>(std::move(config.agent), std::move(handlers), std::move(tasks),
                                 std::move(gate), std::move(upstream));
}

absl::StatusOr<std::unique_ptr<Agent>> BuildAgent(AgentConfig config) {
  return BuildAgent(std::move(config), DefaultHandlerRegistry());
}

}  // namespace sluice::agent
