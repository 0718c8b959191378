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

#include <google/protobuf/any.pb.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
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
  // The operator's contact (--contact), for GGG's User-Agent on PoE requests.
  std::string contact;
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
  // A workflow kind's result (CompleteTaskRequest.payload), packed from the
  // kind's own message.
  std::optional<google::protobuf::Any> payload;
  // Multi-request kinds only: the answer that ended the run early (429, 5xx,
  // 404...), reported through the same outcome table as a single request's.
  // Must not be a 2xx or 304.
  std::optional<HttpResponse> stopped_by;
};

// Sets a workflow kind's payload (CompleteTaskRequest.payload) from its own
// message.
template <typename Message>
void SetPayload(HandlerResult& result, const Message& message) {
  result.payload.emplace();
  result.payload->PackFrom(message);
}

// The task's context (Task.context: what the coordinator attaches when it
// leases a workflow kind, e.g. a character's token or a stream's cursor) as
// the kind's own message. `what` names the task in errors ("killmail 42").
// A context of another type, or one that does not parse, is INVALID_ARGUMENT
// naming the type expected and the one that came. A task without a context
// is INVALID_ARGUMENT when `required`; otherwise it reads as an empty
// message, for kinds whose context is optional (a region's stored page
// ETags, a stream's first page).
template <typename Message>
absl::StatusOr<Message> UnpackContext(const sluice::v1::Task& task, absl::string_view what,
                                      bool required = true) {
  const std::string& expected = Message::descriptor()->full_name();
  if (!task.has_context()) {
    if (!required) return Message();
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": the task carries no context, expected ", expected));
  }
  if (!task.context().template Is<Message>()) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": the task's context is '", task.context().type_url(), "', expected ", expected));
  }
  Message message;
  if (!task.context().UnpackTo(&message)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": the task's context (", expected, ") does not parse"));
  }
  return message;
}

// Issues the upstream calls of a multi-request task (pages of a list, then
// the bodies it names). Each call waits for a rate token and is reported to
// the throttler exactly like a single-request task's call.
class Fetcher {
 public:
  virtual ~Fetcher() = default;
  // A non-OK status means there was no HTTP answer (no rate token in time,
  // the agent is stopping, transport failure): the handler returns it as is.
  virtual absl::StatusOr<HttpResponse> Fetch(const UpstreamRequest& request) = 0;
};

class Handler {
 public:
  virtual ~Handler() = default;
  virtual UpstreamRequest BuildRequest(const sluice::v1::Task& task) const = 0;
  // Interprets a 2xx body. A non-OK status means the body is unusable; the
  // message should say what was wrong so it can be read in dead_tasks.
  // DATA_LOSS: not JSON at all (truncated in transit: fetched once more);
  // any other code: it parses but breaks the schema (missing or mistyped
  // fields), which the next fetch repeats (see skips_poison).
  virtual absl::StatusOr<HandlerResult> Parse(const sluice::v1::Task& task,
                                              const HttpResponse& response) const = 0;

  // Kinds that need several calls per task (paged lists, follow-up bodies)
  // return true and implement Run instead of BuildRequest/Parse. Run returns
  // the result to complete the task with, a result with stopped_by set, or
  // an error: a Fetch error passed through, or a bad body (a message saying
  // what was wrong).
  virtual bool multi_request() const { return false; }

  // True (most kinds): an answer that breaks the schema fails its task
  // permanently at once, so it lands in dead_tasks (and its workflow records
  // the skip) instead of being fetched max_attempts times. Kinds that cannot
  // skip an entity return false (a stream page holds the cursor to the next
  // one): theirs are retried like transient failures.
  virtual bool skips_poison() const { return true; }
  virtual absl::StatusOr<HandlerResult> Run(const sluice::v1::Task& task, Fetcher& fetcher) const {
    (void)task, (void)fetcher;
    return absl::UnimplementedError("not a multi-request handler");
  }
};

// Base for multi-request handlers: BuildRequest/Parse are never called.
class MultiRequestHandler : public Handler {
 public:
  bool multi_request() const override { return true; }
  UpstreamRequest BuildRequest(const sluice::v1::Task&) const override { return {}; }
  absl::StatusOr<HandlerResult> Parse(const sluice::v1::Task&, const HttpResponse&) const override {
    return absl::InternalError("multi-request handler asked to parse a single response");
  }
};

}  // namespace sluice::agent

#endif  // SLUICE_AGENT_HANDLERS_HANDLER_H_
