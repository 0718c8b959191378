// HandlerRegistry maps task kinds to handler factories and to the throttler
// route each kind calls. It is a plain object: whoever builds an agent fills
// one (DefaultHandlerRegistry() in agent/handlers/all_handlers.h holds every
// kind this binary knows; a test may register only some) and hands it to
// BuildAgent, which instantiates the kinds enabled under the agent's
// HandlerConfig. The agent core asks the resulting HandlerSet which kinds
// exist and never names one, so adding a kind means a handler file and one
// line in all_handlers.cc.
//
// Thread-safety: Register() mutates and must not race anything; the const
// methods may be called concurrently once registration is over (the usual
// rule for a const object). HandlerSet is immutable after construction.
#ifndef SLUICE_AGENT_HANDLERS_HANDLER_REGISTRY_H_
#define SLUICE_AGENT_HANDLERS_HANDLER_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/handlers/handler.h"
#include "agent/throttle/route.h"

namespace sluice::agent {

// Whom the upstream bills a kind's calls to (see common/caller.h).
enum class Billing {
  kEgress,      // public calls: this host's address (Route::caller empty)
  kTaskCaller,  // the task's own token: Task.caller, set by the coordinator
  kAgentToken,  // the token this agent was configured with (--esi_token)
};

struct HandlerSpec {
  std::string kind;  // the wire Task.kind
  Route route;       // what the throttler meters (caller filled per task)
  // Whether this agent can serve the kind under `config` (e.g. an
  // authenticated route needs a token). Null = always.
  std::function<bool(const HandlerConfig&)> enabled;
  std::function<std::unique_ptr<Handler>(const HandlerConfig&)> factory;
  Billing billing = Billing::kEgress;
};

// A kind bound to its live handler instance.
struct BoundHandler {
  std::string kind;
  Route route;  // with the caller for kAgentToken
  std::unique_ptr<Handler> handler;
  Billing billing = Billing::kEgress;
};

// The route one task's calls are metered as: the kind's route billed to the
// task's caller or this agent's token.
Route RouteFor(const BoundHandler& bound, const sluice::v1::Task& task);

// The caller of the ESI token an agent is configured with: its character
// when the token is an SSO JWT, else "token" (every such agent shares one
// budget: it can only under-use the character's bucket, never overshoot).
std::string AgentTokenCaller(const std::string& esi_token);

// The handlers one agent serves. Owns the handler instances.
class HandlerSet {
 public:
  HandlerSet() = default;
  HandlerSet(HandlerSet&&) = default;
  HandlerSet& operator=(HandlerSet&&) = default;

  void Add(BoundHandler bound);
  const BoundHandler* Find(const std::string& kind) const;
  std::vector<std::string> Kinds() const;
  bool empty() const { return by_kind_.empty(); }

 private:
  std::map<std::string, BoundHandler> by_kind_;
};

class HandlerRegistry {
 public:
  // Dies on an empty or duplicate kind, or a spec without a factory: all are
  // programming errors.
  void Register(HandlerSpec spec);
  const HandlerSpec* Find(const std::string& kind) const;
  std::vector<std::string> Kinds() const;
  // Creates every handler enabled under `config`.
  HandlerSet Instantiate(const HandlerConfig& config) const;

 private:
  std::map<std::string, HandlerSpec> specs_;
};

}  // namespace sluice::agent

#endif  // SLUICE_AGENT_HANDLERS_HANDLER_REGISTRY_H_
