// Plain data passed between the queue's domain logic, its store and the
// workflow modules. No wire types: the services translate gRPC to these.
#ifndef SLUICE_SERVER_QUEUE_QUEUE_TYPES_H_
#define SLUICE_SERVER_QUEUE_QUEUE_TYPES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/clock.h"
#include "server/queue/payload.h"

namespace sluice {

// discovery_queue.state. Every statement of the queue store
// (server/store/queue_sql.h) and the migrations' triggers use these numbers.
enum class TaskState : int {
  kReady = 0,    // claimable now
  kLeased = 1,   // held by an agent until available_at (= locked_until)
  kWaiting = 2,  // backing off or released until available_at
};
inline int StateValue(TaskState s) { return static_cast<int>(s); }

struct LeasedTask {
  int64_t task_id = 0;
  std::string kind;
  int64_t entity_id = 0;
  int64_t fencing_token = 0;
  TimePoint locked_until;
  std::string etag;
  int attempts = 0;
  int priority = 0;
  // Filled at lease time by the kind's TaskExtension, if it has one.
  std::optional<Payload> context;
  // Whom the upstream bills the task's authenticated calls to ("char:<id>"),
  // set by the kind's TaskExtension; empty for public calls. The agent asks
  // the throttler for that caller's budgets.
  std::string caller;
  // The job run that queued the task, or queued the task that discovered
  // it; empty for a task queued outside any run.
  std::string run_id;
};

// One claimer's share of a group claim: up to `limit` tasks leased to
// `agent_id` until `lease_until`.
struct ClaimSlot {
  int limit = 0;
  TimePoint lease_until;
  std::string agent_id;
};

struct Discovery {
  std::string kind;
  std::vector<int64_t> ids;
  // Queue even if the entity was refreshed within the freshness window.
  bool force = false;
};

struct Completion {
  int64_t task_id = 0;
  int64_t fencing_token = 0;
  std::string agent_id;
  bool not_modified = false;
  std::string etag;
  std::optional<TimePoint> expires;
  std::vector<Discovery> discovered;
  // The kind's result (entity records, killmail refs, a stream page),
  // written by its TaskExtension.
  std::optional<Payload> payload;
};

struct CompletionOutcome {
  int records_written = 0;
  int tasks_queued = 0;
  // The task itself was kept and is ready again at once (a stream's next
  // page): waiting leasers should look now.
  bool requeued_now = false;
  // The job run the task belongs to (LeasedTask::run_id), for log lines.
  std::string run_id;
};

// What a kind's TaskExtension made of one completion's payload.
struct PayloadOutcome {
  // Rows the payload wrote (reported to the agent as records_written).
  int records_written = 0;
  // Queued like Completion::discovered, at the task's priority.
  std::vector<Discovery> discovered;
  // Keep the task, ready again after this delay, instead of deleting it: a
  // stream's task lives as long as the stream (one holder at a time).
  std::optional<Duration> requeue_after;
  // Set to refuse the payload while still committing what Apply wrote (an
  // audit record of the refusal) and the requeue: the agent gets this status
  // (e.g. FAILED_PRECONDITION for a stream rewind), nothing else is applied.
  absl::Status rejection;
};

struct Failure {
  int64_t task_id = 0;
  int64_t fencing_token = 0;
  std::string agent_id;
  bool permanent = false;
  Duration retry_after{0};
  std::string error;
  int http_status = 0;
  // Handed back unstarted: no attempt counted, no backoff beyond retry_after.
  bool release = false;
};

struct FailureOutcome {
  std::optional<TimePoint> retry_at;
  int attempts = 0;
  bool dead = false;
  // The job run the task belongs to (LeasedTask::run_id), for log lines.
  std::string run_id;
};

struct EnqueueOutcome {
  int enqueued = 0;
  int already_queued = 0;
  // Of `enqueued`, tasks queued waiting until their entity's stored Expires
  // (never fetched before it).
  int waiting_for_expires = 0;
  // Ids not queued because their stored Expires is still ahead: a `user`
  // request answered from the database (its access still counted).
  int answered_from_database = 0;
};

struct KindStats {
  std::string kind;
  int64_t ready = 0;
  int64_t leased = 0;
  int64_t retrying = 0;
  double oldest_age_seconds = 0;
  std::vector<std::pair<std::string, int64_t>> agents;  // agent id, leases held
  int64_t dead = 0;
};

// Entities a kind's table holds (kinds with TaskKind::listed).
struct EntityCountRow {
  std::string kind;
  int64_t count = 0;
  int64_t refreshed_since = 0;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_QUEUE_QUEUE_TYPES_H_
