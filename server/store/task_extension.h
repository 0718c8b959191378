// TaskExtension is how a workflow kind (killmail sync, contract regions,
// stream pages) plugs into the queue's transactions without the queue
// knowing its tables:
//
//   - at lease time, FillContext adds what the agent needs beyond the entity
//     id (a stream's current cursor, a character's token) to each leased task,
//     inside the claim's transaction: if it fails, nothing is leased;
//   - at completion, Apply writes the kind's payload inside the completion
//     batch's transaction, under a savepoint of its own (store/savepoint.h;
//     nest more Savepoints inside to isolate single records): an error rolls back
//     this completion only (the agent gets the status), the rest of the batch
//     commits. The task's removal (or requeue) commits with the payload or
//     not at all;
//   - OnFailure sees every failure the upstream caused (error counts, 429s);
//     when a task of the kind is dead-lettered, OnDead lets the kind record
//     it (e.g. bump a type's refresh time so it is not retried at once).
//
// Extensions register once per process (RegisterTaskExtension), normally from
// a workflow module's Register*Kinds() function, which also registers the
// kinds themselves (task_kinds.h).
//
// Thread-safety: an extension is called from many RPC threads at once, each
// with its own transaction; implementations keep no mutable state or guard it.
// The registry may be read concurrently with registration.
#ifndef SLUICE_SERVER_STORE_TASK_EXTENSION_H_
#define SLUICE_SERVER_STORE_TASK_EXTENSION_H_

#include <pqxx/pqxx>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "server/queue/queue_types.h"

namespace sluice {

// The queued task a completion belongs to, as locked by the batch.
struct ExtensionTask {
  int64_t task_id = 0;
  std::string kind;
  int64_t entity_id = 0;
  int priority = 0;
};

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

class TaskExtension {
 public:
  virtual ~TaskExtension() = default;

  virtual std::string kind() const = 0;

  // Sets LeasedTask::context for every task in `tasks` (all of this kind).
  virtual absl::Status FillContext(pqxx::dbtransaction& txn, std::vector<LeasedTask*>& tasks,
                                   TimePoint now) {
    (void)txn, (void)tasks, (void)now;
    return absl::OkStatus();
  }

  // Writes `c` (its payload, records, 304 flag). INVALID_ARGUMENT for a
  // payload of the wrong type or bad content, FAILED_PRECONDITION when the
  // payload no longer fits the coordinator's state (a stale stream cursor).
  // SQL errors may be thrown: they roll back this completion's savepoint and
  // reach the agent as INTERNAL/UNAVAILABLE.
  virtual absl::StatusOr<PayloadOutcome> Apply(pqxx::dbtransaction& txn, const ExtensionTask& task,
                                               const Completion& c, TimePoint now) = 0;

  // A failure was recorded for the task (in that transaction), transient or
  // permanent; not called for a release (the upstream was never called).
  // Streams count errors and 429s here for their health.
  virtual void OnFailure(pqxx::dbtransaction& txn, const ExtensionTask& task, const Failure& f,
                         TimePoint now) {
    (void)txn, (void)task, (void)f, (void)now;
  }

  // The task was moved to dead_tasks (in that transaction), after OnFailure.
  virtual void OnDead(pqxx::dbtransaction& txn, const ExtensionTask& task, TimePoint now) {
    (void)txn, (void)task, (void)now;
  }
};

// Takes ownership; a second extension for the same kind is ignored (modules
// may register more than once, e.g. from several tests).
void RegisterTaskExtension(std::unique_ptr<TaskExtension> extension);
// nullptr if the kind has none.
TaskExtension* FindTaskExtension(const std::string& kind);

}  // namespace sluice

#endif  // SLUICE_SERVER_STORE_TASK_EXTENSION_H_
