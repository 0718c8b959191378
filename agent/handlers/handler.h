// Handler turns one task kind into an upstream request and turns the
// upstream's 200 body into entity records and discovered ids.
//
// Handlers know nothing about leases, tokens, retries or HTTP status codes:
// the core maps 304/404/429/5xx to outcomes the same way for every kind
// (core/outcome.h), so a handler is only "which URL" and "what the JSON
// means". New kinds plug in through HandlerRegistry without touching the core.
//
// Thread-safety: one Handler instance serves every worker thread; BuildRequest
// and Parse must be const and re-entrant.
#ifndef SLUICE_AGENT_HANDLERS_HANDLER_H_
#define SLUICE_AGENT_HANDLERS_HANDLER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/http/upstream_client.h"
#include "sluice/v1/agent.pb.h"
#include "sluice/v1/entities.pb.h"

namespace sluice::agent {

// Agent-wide settings handlers may need. Immutable once the agent starts.
struct HandlerConfig {
  std::string esi_base_url = "https://esi.evetech.net/latest";
  std::string poe_base_url = "https://api.pathofexile.com";
  // ESI SSO access token for authenticated routes; empty = none configured.
  std::string esi_token;
};

struct UpstreamRequest {
  std::string url;
  // Handler-specific headers (e.g. Authorization). The core adds
  // If-None-Match itself when the task carries an ETag.
  RequestHeaders headers;
};

struct HandlerResult {
  std::vector<sluice::v1::EntityRecord> records;
  std::vector<sluice::v1::Discovered> discovered;
};

class Handler {
 public:
  virtual ~Handler() = default;
  virtual UpstreamRequest BuildRequest(const sluice::v1::Task& task) const = 0;
  // Interprets a 2xx body. A non-OK status means the body is unusable
  // (malformed JSON, missing or mistyped required fields); the message should
  // say what was wrong so it can be read in dead_tasks.
  virtual absl::StatusOr<HandlerResult> Parse(const sluice::v1::Task& task,
                                              const HttpResponse& response) const = 0;
};

}  // namespace sluice::agent

#endif  // SLUICE_AGENT_HANDLERS_HANDLER_H_
