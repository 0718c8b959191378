// TaskExtension is how a workflow kind (the core ESI entities, killmail
// sync, contract regions, stream pages) plugs into the queue's transactions
// without the queue knowing its tables:
//
//   - at lease time, FillContext adds what the agent needs beyond the entity
//     id (a stream's current cursor, a character's token, whom the calls are
//     billed to) to each leased task, inside the claim's transaction: if it
//     fails, nothing is leased;
//   - at completion, ApplyAll writes the payloads of the batch's completions
//     of this kind inside the batch's transaction (by default one Apply each,
//     under a savepoint of its own: store/savepoint.h): an error rolls back
//     that completion only (its agent gets the status), the rest of the
//     batch commits. A task's removal (or requeue) commits with its payload
//     or not at all;
//   - OnFailure sees every failure the upstream caused (error counts, 429s);
//     when a task of the kind is dead-lettered, OnDead lets the kind record
//     it (e.g. bump a type's refresh time so it is not retried at once).
//
// A workflow module registers its extensions in the coordinator's
// TaskExtensionRegistry (one per coordinator, like the TaskKindRegistry).
//
// Thread-safety: an extension is called from many RPC threads at once, each
// with its own transaction; implementations keep no mutable state or guard
// it. The registry may be read concurrently with registration.
#ifndef SLUICE_SERVER_STORE_TASK_EXTENSION_H_
#define SLUICE_SERVER_STORE_TASK_EXTENSION_H_

#include <pqxx/pqxx>

#include <map>
#include <memory>
#include <mutex>
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

// One completion of a batch, for ApplyAll.
struct ExtensionItem {
  ExtensionTask task;
  const Completion* completion = nullptr;
};

class TaskExtension {
 public:
  virtual ~TaskExtension() = default;

  virtual std::string kind() const = 0;

  // Sets LeasedTask::context (and caller) for every task in `tasks` (all of
  // this kind).
  virtual absl::Status FillContext(pqxx::dbtransaction& txn, std::vector<LeasedTask*>& tasks,
                                   TimePoint now) {
    (void)txn, (void)tasks, (void)now;
    return absl::OkStatus();
  }

  // Writes one completion (its payload, the 304 flag). INVALID_ARGUMENT for
  // a payload of the wrong type or bad content, FAILED_PRECONDITION when the
  // payload no longer fits the coordinator's state (a stale stream cursor).
  // SQL errors may be thrown: the caller's savepoint turns them into this
  // completion's status (see UnderSavepoint).
  virtual absl::StatusOr<PayloadOutcome> Apply(pqxx::dbtransaction& txn, const ExtensionTask& task,
                                               const Completion& c, TimePoint now) = 0;

  // Writes every completion of this kind in a batch; one result per item, in
  // order. The default runs Apply on each under a savepoint of its own; a
  // kind may write many at once (one statement per table) as long as one bad
  // item still fails only itself. Deadlocks and serialisation failures are
  // thrown: the whole batch is retried.
  virtual std::vector<absl::StatusOr<PayloadOutcome>> ApplyAll(
      pqxx::dbtransaction& txn, const std::vector<ExtensionItem>& items, TimePoint now);

  // A failure was recorded for the task (in that transaction), transient or
  // permanent; not called for a release (the upstream was never called).
  // Streams count errors and 429s here for their health.
  virtual void OnFailure(pqxx::dbtransaction& txn, const ExtensionTask& task, const Failure& f,
                         TimePoint now) {
    (void)txn, (void)task, (void)f, (void)now;
  }

  // The task was moved to dead_tasks (in that transaction), after OnFailure;
  // `f` is the failure that ended it.
  virtual void OnDead(pqxx::dbtransaction& txn, const ExtensionTask& task, const Failure& f,
                      TimePoint now) {
    (void)txn, (void)task, (void)f, (void)now;
  }
};

// The extensions one coordinator knows, by kind.
//
// Ownership: owns the extensions. Thread-safety: Register and Find may run
// concurrently; a returned pointer stays valid for the registry's life.
class TaskExtensionRegistry {
 public:
  TaskExtensionRegistry() = default;
  TaskExtensionRegistry(const TaskExtensionRegistry&) = delete;
  TaskExtensionRegistry& operator=(const TaskExtensionRegistry&) = delete;

  // ALREADY_EXISTS if the kind has one: two modules would both write it.
  absl::Status Register(std::unique_ptr<TaskExtension> extension);
  // nullptr if the kind has none.
  TaskExtension* Find(const std::string& kind) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<TaskExtension>> by_kind_;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_STORE_TASK_EXTENSION_H_
