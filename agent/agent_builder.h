// Production wiring for an Agent: one gRPC channel to the coordinator
// (AgentService + ThrottlerService), libcurl for the upstream, and the
// handlers of the registry it is given (every kind the binary knows unless
// the caller says otherwise). main() and the end-to-end tests use this; unit
// tests assemble an Agent from fakes instead.
#ifndef SLUICE_AGENT_AGENT_BUILDER_H_
#define SLUICE_AGENT_AGENT_BUILDER_H_

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "agent/core/agent.h"
#include "agent/handlers/handler.h"
#include "agent/handlers/handler_registry.h"

namespace sluice::agent {

struct AgentConfig {
  std::string coordinator = "localhost:50051";  // host:port
  std::string tls_ca;                           // PEM file; empty = plaintext
  std::string auth_token;                       // coordinator bearer token
  AgentOptions agent;                           // agent_id empty = DefaultAgentId()
  HandlerConfig handlers;                       // upstream base URLs, ESI token
  // Operator contact for the User-Agent, e.g. "ops@example.org".
  std::string contact;
  // The address upstream calls leave from (libcurl binds to it); empty =
  // the kernel's choice.
  std::string bind_address;
  // The address the upstream sees calls come from, for budgets billed per
  // address; empty = bind_address, or unknown when that is empty too (every
  // such agent then shares one budget: safe, slower). Agents behind one NAT
  // address must all name it.
  std::string egress;
  std::chrono::milliseconds http_connect_timeout{5000};
  std::chrono::milliseconds http_timeout{30000};
  // Rate tokens per LeaseTokens call; 0 = 2 x workers.
  int token_batch = 0;
  // Rate tokens armed per ArmTokens call; 0 = no arming
  // (CoordinatorRateGateOptions::arm_chunk).
  int token_arm_chunk = 1;
  std::chrono::milliseconds token_safety_margin{250};
  std::chrono::milliseconds rpc_timeout{10000};
  std::chrono::milliseconds result_retry_window{std::chrono::minutes(10)};
};

// "hostname:pid".
std::string DefaultAgentId();

// Builds a ready-to-Start agent (its rate gate's background streams are
// already running) serving the kinds of `registry` enabled under
// config.handlers. The registry is read only during the call: the agent owns
// the handler instances it made. INVALID_ARGUMENT for unusable configuration,
// including no enabled kind.
absl::StatusOr<std::unique_ptr<Agent>> BuildAgent(AgentConfig config,
                                                  const HandlerRegistry& registry);

// The same with DefaultHandlerRegistry(): every kind this binary knows.
absl::StatusOr<std::unique_ptr<Agent>> BuildAgent(AgentConfig config);

}  // namespace sluice::agent

#endif  // SLUICE_AGENT_AGENT_BUILDER_H_
