// Outcome mapping: what the coordinator is told about a task, given what the
// upstream answered. One table for every kind, so handlers stay about JSON:
//
//   2xx        -> handler.Parse: records + discovered -> CompleteTask;
//                 a body that is not JSON (truncated) -> FailTask with the
//                 2xx status (the queue fetches it once more, then gives
//                 up); a body that breaks the schema -> FailTask permanent
//                 (the same answer would come every time), unless the kind
//                 cannot skip an entity (Handler::skips_poison)
//   304        -> CompleteTask{not_modified}, no records
//   404, 410   -> FailTask with http_status (the entity is gone; the
//                 queue's RetryPolicy dead-letters it at once)
//   420, 429   -> FailTask transient, retry_after from Retry-After /
//                 X-ESI-Error-Limit-Reset (the later; parsed as the
//                 throttler does, common/http_date.h: decimals rounded up,
//                 at most a day, an unparseable value asks for nothing)
//   other 4xx  -> FailTask with http_status; the queue's RetryPolicy
//                 decides when a repeated 4xx is permanent
//   3xx, 5xx   -> FailTask transient, retry_after 0 (coordinator backs off)
//   transport  -> FailTask transient, http_status 0
//
// ETag and Expires of the response travel with CompleteTask. A multi-request
// task (a paged list) is not asked for again before the latest Expires of
// the answers it read, whatever the outcome: CompleteTask carries that
// Expires, and a FailTask's retry_after reaches at least to it. Its pages
// disagreeing on Last-Modified (ABORTED from the handler,
// agent/handlers/esi_pages.h) is a transient failure, http_status 0.
#ifndef SLUICE_AGENT_CORE_OUTCOME_H_
#define SLUICE_AGENT_CORE_OUTCOME_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "agent/handlers/handler.h"
#include "agent/http/upstream_client.h"
#include "common/clock.h"
#include "sluice/v1/agent.pb.h"

namespace sluice::agent {

// Why a task ended the way it did; drives the agent's counters and logs.
enum class OutcomeClass {
  kCompleted,
  kNotModified,
  kBadBody,         // 2xx whose body the handler rejected
  kGone,            // 404/410
  kRateLimited,     // 420/429
  kClientError,     // other 4xx
  kServerError,     // 3xx/5xx/other
  kTransportError,  // no HTTP answer
  kInconsistent,    // a paged list's pages came from different versions
  kReleased,        // never called upstream (drain, no token, no handler)
};

struct TaskOutcome {
  OutcomeClass cls = OutcomeClass::kReleased;
  // Exactly one of these is meaningful: complete when cls is kCompleted or
  // kNotModified, fail otherwise.
  sluice::v1::CompleteTaskRequest complete;
  sluice::v1::FailTaskRequest fail;

  bool is_complete() const {
    return cls == OutcomeClass::kCompleted || cls == OutcomeClass::kNotModified;
  }
};

const char* OutcomeClassName(OutcomeClass cls);

TaskOutcome DecideOutcome(const Handler& handler, const sluice::v1::Task& task,
                          const std::string& agent_id, const absl::StatusOr<HttpResponse>& response,
                          TimePoint now);

// Why a multi-request task's Fetch produced no HTTP answer, if it did not.
enum class FetchFailure { kNone, kNoToken, kTransport };

// The outcome of a multi-request handler's Run: its result completes the
// task; a result with stopped_by goes through the table above; an error is
// a release (no rate token, stopping), a transport error, an inconsistent
// paged read (ABORTED), or a bad body, as `failure` and the code say.
// `not_before` is the latest Expires among the answers the run read: the
// completion carries it, and any other outcome waits at least until it.
TaskOutcome DecideRunOutcome(const Handler& handler, const sluice::v1::Task& task,
                             const std::string& agent_id, const absl::StatusOr<HandlerResult>& run,
                             FetchFailure failure, std::optional<TimePoint> not_before,
                             TimePoint now);

// A transient failure for a task this agent gives back without having called
// the upstream (shutting down, no rate token in time, unknown kind).
TaskOutcome ReleaseOutcome(const sluice::v1::Task& task, const std::string& agent_id,
                           const std::string& reason, Duration retry_after = Duration::zero());

}  // namespace sluice::agent

#endif  // SLUICE_AGENT_CORE_OUTCOME_H_
