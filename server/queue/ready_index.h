// ReadyIndex: the coordinator's in-memory index of the queue's ready tasks
// (discovery_queue rows in state 0), so that a claim ranks the whole queue by
// urgency in memory, in time independent of the queue's length, and the
// database only leases the chosen rows by primary key.
//
// Why it can be exact: urgency is (now - last_modified) * weight, linear in
// age with the weight as slope, so within one (kind, priority, weight) the
// oldest task is the most urgent at every instant. The top N of the queue is
// then a merge of the heads of those lists, one heap entry per list:
// a scan of the heads, then a heap over the few lists whose head can still
// make the top N: O(lists + N log N) per claim, whatever the number of
// tasks. Ties go to the older row, then the lower task id.
//
// Why it can be kept: the coordinator is the only writer of the queue. Every
// statement that makes a row ready (an insert, a priority or weight raise of
// a ready row, the promotion of a lapsed lease or an ended backoff) returns
// the row, and the store applies it here after its transaction commits. A
// row can only leave the ready state through a claim, which takes it from
// here first. So the index may briefly hold a row that is no longer ready (a
// raise applied after the row was taken): the lease statement, which leases
// only rows still ready, drops it. It can miss a ready row only when
// something else wrote the table (an operator's SQL, a test, another
// coordinator): Reload() rebuilds it from the table while claims go on,
// replaying the changes made meanwhile (BeginReload / FinishReload).
//
// Ownership: owns its entries. Thread-safety: every method is safe from any
// thread (one mutex; a claim holds it for the merge only, microseconds).
#ifndef SLUICE_SERVER_QUEUE_READY_INDEX_H_
#define SLUICE_SERVER_QUEUE_READY_INDEX_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "common/clock.h"
#include "server/queue/kind_interner.h"
#include "server/queue/reload_journal.h"

namespace sluice {

// A ready row, as the index keeps it.
struct ReadyTask {
  int64_t task_id = 0;
  std::string kind;
  int priority = 0;
  int64_t weight = 1;  // access_count + 1
  TimePoint last_modified;
  TimePoint enqueued_at;  // for the age of the oldest ready row (status)
};

class ReadyIndex {
 public:
  ReadyIndex() = default;
  ReadyIndex(const ReadyIndex&) = delete;
  ReadyIndex& operator=(const ReadyIndex&) = delete;

  // Adds a ready row, or moves it if its priority, weight or last_modified
  // changed.
  void Upsert(const ReadyTask& task);
  // Puts back rows a claim took but did not lease (its transaction failed),
  // unless a newer version of the row was upserted meanwhile.
  void Restore(const std::vector<ReadyTask>& tasks);
  // Forgets a row (it was deleted while ready).
  void Remove(int64_t task_id);

  // Takes out the n most urgent rows of `kinds` at `now`, most urgent first,
  // from the highest priority that has ready rows among them (lower
  // priorities wait until it is empty, as in the database's order).
  std::vector<ReadyTask> Take(const std::vector<std::string>& kinds, int n, TimePoint now);

  // Ready rows of `kind`, of any of `kinds`, and of every kind.
  int64_t Size(const std::string& kind) const;
  bool Any(const std::vector<std::string>& kinds) const;
  std::map<std::string, int64_t> Sizes() const;
  // When the longest-waiting ready row of `kind` was queued (enqueued_at);
  // nullopt if none is ready.
  std::optional<TimePoint> OldestEnqueued(const std::string& kind) const;

  // Rebuilding from the table while claims go on: after BeginReload, every
  // change is also journaled; the caller reads the table in ONE snapshot
  // taken after BeginReload, then FinishReload swaps in what it read with
  // the journal replayed on top. AbortReload drops the journal.
  void BeginReload();
  void FinishReload(const std::vector<ReadyTask>& loaded);
  void AbortReload();

 private:
  struct Key {
    int kind = 0;
    int priority = 0;
    int64_t weight = 1;
    TimePoint last_modified;
    TimePoint enqueued_at;
  };
  // Oldest first: (last_modified, task_id).
  using List = absl::btree_set<std::pair<TimePoint, int64_t>>;
  // One weight's rows, with its head's last_modified kept beside it: a
  // claim reads every weight's head, and at ten million rows there are tens
  // of thousands of weights, so the heads sit in one array (a scan of
  // them costs microseconds; reaching each head through its tree cost
  // milliseconds in cache misses). An empty slot waits in `free` for reuse.
  struct Slot {
    int64_t weight = 0;
    TimePoint head;  // valid while list is not empty
    List list;
  };
  struct Level {
    std::vector<Slot> slots;
    absl::flat_hash_map<int64_t, uint32_t> slot_of;  // weight -> index in slots
    std::vector<uint32_t> free;
  };
  struct Kind {
    std::map<int, Level, std::greater<int>> levels;  // highest priority first
    int64_t size = 0;
    // Ready rows per enqueued_at: an enqueue queues its rows at one instant,
    // so this holds one entry per enqueue statement, not per row.
    absl::btree_map<TimePoint, int64_t> enqueued;
  };
  struct State {
    absl::flat_hash_map<int64_t, Key> keys;
    std::vector<Kind> kinds;  // by kind id
  };
  struct Op {
    enum Type { kUpsert, kRestore, kRemove } type;
    ReadyTask task;
  };

  static void Insert(State& s, int64_t task_id, const Key& key);
  static void Erase(State& s, int64_t task_id, const Key& key);
  void Apply(State& s, const Op& op);  // mu_ held (kind ids)

  mutable std::mutex mu_;
  KindInterner kinds_;         // guarded by mu_
  State state_;                // guarded by mu_
  ReloadJournal<Op> journal_;  // guarded by mu_
};

}  // namespace sluice

#endif  // SLUICE_SERVER_QUEUE_READY_INDEX_H_
