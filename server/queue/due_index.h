// DueIndex: the coordinator's in-memory index of the queue's rows that are
// not ready (discovery_queue rows leased or waiting), by the time each
// becomes due: a lease runs out, a backoff or a stream's wait ends, an
// entity's Expires passes. With the ready index (server/queue/ready_index.h)
// it serves every read that needed an index on the row's state, so the table
// keeps only its primary key and (kind, entity_id) and a lease, a promotion
// or a requeue is a HOT update (db/migrations/0020_hot_leases.sql): no index
// entry written, none left dead behind.
//
// Why it can be kept: the coordinator is the only writer of the queue. Every
// statement of the store that leases a row, moves its due time, makes it
// wait or deletes it applies that here once its transaction commits. A
// promotion takes the due rows out (TakeDue), makes them ready by primary
// key in the database, and hands back (FinishTake) those it could not (a
// row another transaction holds), as the table has them then; a row written
// meanwhile by this store keeps that write's version.
//
// What it can get wrong, and how that heals: it may hold a row that is gone
// or ready (a write applied out of order): the promotion's statement checks
// the row's state and due time in the table, so such a row is dropped at its
// due time. It misses rows only when something else wrote the table:
// Reload, as for the ready index (BeginReload / FinishReload replay the
// changes made while the table was read).
//
// Ownership: owns its entries. Thread-safety: every method is safe from any
// thread (one mutex, held for microseconds, except Take and the counts,
// which walk the rows due now).
#ifndef SLUICE_SERVER_QUEUE_DUE_INDEX_H_
#define SLUICE_SERVER_QUEUE_DUE_INDEX_H_

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "common/clock.h"
#include "server/queue/kind_interner.h"
#include "server/queue/queue_types.h"
#include "server/queue/reload_journal.h"

namespace sluice {

// A row that is not ready, as the index keeps it.
struct DueTask {
  int64_t task_id = 0;
  std::string kind;
  TaskState state = TaskState::kWaiting;  // kLeased or kWaiting
  TimePoint due;                          // available_at
  std::string agent;                      // leased_by of a leased row
};

class DueIndex {
 public:
  DueIndex() = default;
  DueIndex(const DueIndex&) = delete;
  DueIndex& operator=(const DueIndex&) = delete;

  // A row was leased, extended, released, backed off or queued waiting.
  void Upsert(const DueTask& task);
  // A row was deleted (or made ready by something other than TakeDue).
  void Remove(int64_t task_id);

  // Takes out up to `limit` rows of `kinds` due at `now`, earliest first,
  // for a promotion; FinishTake must follow with the same ids.
  std::vector<DueTask> TakeDue(const std::vector<std::string>& kinds, TimePoint now, int limit);
  // The promotion is over: `restore` (rows it did not make ready, as the
  // table has them) go back, except rows this index was told of since
  // TakeDue (Upsert / Remove: newer than what the promotion read).
  void FinishTake(const std::vector<int64_t>& taken, const std::vector<DueTask>& restore);

  // Whether a row of any of `kinds` is due at `now`.
  bool AnyDue(const std::vector<std::string>& kinds, TimePoint now) const;
  // Per kind, the rows due at `now` not promoted yet, by state.
  std::map<std::pair<std::string, TaskState>, int64_t> DueCounts(TimePoint now) const;
  // Per kind and state, every row.
  std::map<std::pair<std::string, TaskState>, int64_t> Sizes() const;
  // The rows leased to `agent` (task ids, ascending).
  std::vector<int64_t> LeasedBy(const std::string& agent) const;
  // Per (kind, agent), the leases not run out at `now`.
  std::map<std::pair<std::string, std::string>, int64_t> LeasesByAgent(TimePoint now) const;

  // Rebuilding from the table while writes go on, as ReadyIndex does.
  void BeginReload();
  void FinishReload(const std::vector<DueTask>& loaded);
  void AbortReload();

 private:
  struct Entry {
    int kind = 0;
    TaskState state = TaskState::kWaiting;
    TimePoint due;
  };
  struct State {
    absl::flat_hash_map<int64_t, Entry> entries;
    // Per kind id, (due, task id), earliest first.
    std::vector<absl::btree_set<std::pair<TimePoint, int64_t>>> by_due;
    // leased_by of leased rows (few: the tasks in flight).
    absl::flat_hash_map<int64_t, std::string> agents;
    // Per kind id, rows by state (TaskState's value).
    std::vector<std::array<int64_t, 3>> counts;
  };
  struct Op {
    enum Type { kUpsert, kRemove } type;
    DueTask task;
  };

  static void Insert(State& s, int kind, const DueTask& task);
  static void Erase(State& s, int64_t task_id);
  void Apply(State& s, const Op& op);  // mu_ held
  void Record(Op op);                  // mu_ held: applies and journals

  mutable std::mutex mu_;
  KindInterner kinds_;  // guarded by mu_
  State state_;         // guarded by mu_
  // Taken by a promotion in flight and not written since.
  absl::flat_hash_set<int64_t> taken_;      // guarded by mu_
  ReloadJournal<Op> journal_;          // guarded by mu_
};

}  // namespace sluice

#endif  // SLUICE_SERVER_QUEUE_DUE_INDEX_H_
