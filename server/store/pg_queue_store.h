// PgQueueStore: the task queue on PostgreSQL (tables in db/migrations, every
// statement in store/queue_sql.h).
//
// Claims rank the ready tasks in memory (server/queue/ready_index.h: exact
// urgency order in time independent of the queue's length), then lease the
// chosen rows by primary key. The rows that are not ready (leased, backing
// off, waiting) are kept in memory by when they become due
// (server/queue/due_index.h): a claim promotes the due ones by primary key,
// and polling an empty queue costs the database nothing. With those two the
// table needs no index on the row's state, so leases, promotions and
// requeues are HOT updates (db/migrations/0020_hot_leases.sql). Both indexes
// are loaded from the table (one scan) before the first claim and kept by
// every statement of this store, applied once its transaction commits.
// Completions are committed in batches: one
// transaction locks the batch's tasks by fencing token, lets a CompletionPlan decide what goes in
// (server/queue/completion_plan.h), has each kind's TaskExtension write its payloads, then writes
// cache state with one statement, queues discovered ids with one statement per (kind, priority,
// force), and deletes or requeues the tasks. Each task's result is all-or-nothing; a stale token
// writes nothing.
//
// Ownership: borrows the pool and the registries; they must outlive it.
// Thread-safety: safe from any thread; each call borrows a pool connection.
#ifndef SLUICE_SERVER_STORE_PG_QUEUE_STORE_H_
#define SLUICE_SERVER_STORE_PG_QUEUE_STORE_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "server/queue/claims_in_flight.h"
#include "server/queue/due_index.h"
#include "server/queue/queue_store.h"
#include "server/queue/ready_index.h"
#include "server/queue/task_kinds.h"
#include "server/store/pg_pool.h"
#include "server/store/run_id_cache.h"
#include "server/store/task_extension.h"

namespace sluice {

class PgQueueStore final : public QueueStore {
 public:
  // Called at named points inside Complete's transaction ("locked",
  // "entities", "discovered", "before_commit") and Claim's ("claim_leased"),
  // and in CheckReadyIndex once the table's counts are read
  // ("index_check_counted"). Tests throw from it to prove a failure
  // mid-commit leaves nothing behind, or act at that point (hold a
  // transaction open, race a completion). Null in production.
  using FaultHook = std::function<void(const std::string& stage)>;

  PgQueueStore(PgPool* pool, const TaskKindRegistry* kinds, const TaskExtensionRegistry* extensions)
      : pool_(pool), kinds_(kinds), extensions_(extensions) {}

  void set_fault_hook(FaultHook hook) { fault_hook_ = std::move(hook); }

  // Whether a claim waits for its commit to be flushed to disk. Off by
  // default: a claim's transaction only leases (and promotes lapsed rows),
  // so the fsync it would wait for (3.5-8 ms on the development machine's
  // disk, more than the rest of the claim) buys little. If PostgreSQL
  // itself crashes within wal_writer_delay (x3) of a claim, that lease is
  // lost: its tasks are ready again when the server is back, are leased
  // again, and the agent that held the lost lease runs the task a second
  // time. Its report is stored if it comes first (the lease token sequence
  // may hand out the same value again after such a crash) and refused
  // otherwise: each task's result is stored once, nothing is lost, and a
  // later synchronous commit (any completion) makes every earlier claim
  // durable, since the WAL is flushed in order. Only the attempt count of
  // the lost lease is not kept. Call before the store is used.
  void set_synchronous_claims(bool on) { synchronous_claims_ = on; }

  absl::StatusOr<std::vector<std::vector<LeasedTask>>> Claim(const std::vector<std::string>& kinds,
                                                             const std::vector<ClaimSlot>& slots,
                                                             TimePoint now) override;
  absl::StatusOr<TimePoint> Extend(int64_t task_id, int64_t fencing_token,
                                   TimePoint lease_until) override;
  std::vector<absl::StatusOr<CompletionOutcome>> CompleteBatch(
      const std::vector<const Completion*>& batch, TimePoint now, TimePoint fresh_after) override;
  absl::StatusOr<FailureOutcome> Fail(const Failure& failure, TimePoint now,
                                      const RetryDecider& decide) override;
  absl::StatusOr<std::vector<std::pair<int64_t, int64_t>>> LeasesHeldBy(
      const std::string& agent_id) override;
  absl::StatusOr<EnqueueOutcome> Enqueue(const std::string& kind, const std::vector<int64_t>& ids,
                                         int priority, bool count_access, TimePoint now,
                                         const std::string& run_id) override;
  absl::StatusOr<std::vector<KindStats>> Stats(TimePoint now) override;
  absl::Status FoldCounts() override;
  absl::StatusOr<std::vector<EntityCountRow>> EntityCounts(std::optional<TimePoint> since) override;
  absl::Status ForEachEntityId(
      const std::string& kind, int chunk,
      const std::function<absl::Status(const std::vector<int64_t>&)>& fn) override;
  absl::StatusOr<std::vector<int64_t>> Unqueued(const std::string& kind,
                                                const std::vector<int64_t>& ids) override;
  absl::StatusOr<int64_t> CountFirstAttempts(const std::string& kind,
                                             const std::vector<int64_t>& ids) override;
  // Also for rows made due (a lease or backoff shortened) behind the
  // store's back.
  void ReloadBeforeNextClaim() override;

  // Compares the ready and due indexes, with the rows running claims hold
  // out of them, to the queue's counters, and reloads them when they miss
  // rows at two checks in a row (the table was written by something other
  // than this store). The coordinator's health loop calls it every few
  // seconds.
  absl::Status CheckReadyIndex();
  // Analyzes the queue table when it holds far more rows than the planner
  // believes (the rows the indexes hold against pg_class's estimate scaled
  // to the table's pages, as the planner scales it): more than
  // kOutgrownFactor times the estimate plus kOutgrownSlack. Autovacuum
  // analyzes a queue that drained to a few rows, and until it comes back
  // (autovacuum_naptime, a minute by default) a burst refilling it is
  // planned as if the table were empty: hash joins over whole-table scans,
  // filters where there were index conditions. The coordinator's health
  // loop calls it every few seconds; it tries at most once per
  // kMinAnalyzeInterval (an ANALYZE that cannot update the statistics, run
  // by a role that does not own the table, is not repeated every call), and
  // gives up with an error when a VACUUM holds the table for more than half
  // a second rather than wait for it or have it cancelled. Returns whether
  // it analyzed.
  absl::StatusOr<bool> AnalyzeIfOutgrown();
  // Times CheckReadyIndex reloaded the index.
  int64_t ready_index_reloads() const { return reloads_.load(); }

 private:
  void Hook(const std::string& stage) {
    if (fault_hook_) fault_hook_(stage);
  }
  // One batch, in one transaction (Run may call it again on a new connection).
  // Appends the rows it made ready to `ready`.
  // Appends the rows it requeued or queued waiting to `due`, the tasks it
  // deleted to `deleted`.
  std::vector<absl::StatusOr<CompletionOutcome>> CommitBatch(
      pqxx::work& w, const std::vector<const Completion*>& batch, TimePoint now,
      TimePoint fresh_after, std::vector<ReadyTask>* ready, std::vector<DueTask>* due,
      std::vector<int64_t>* deleted);
  // Loads the ready and due indexes unless they are loaded.
  absl::Status EnsureReadyIndex();
  // Rebuilds both indexes from the table (one snapshot) while claims go on.
  // reload_mu_ held.
  absl::Status ReloadReadyIndex();

  PgPool* const pool_;
  const TaskKindRegistry* const kinds_;
  const TaskExtensionRegistry* const extensions_;
  FaultHook fault_hook_;
  bool synchronous_claims_ = false;

  // Rows one claim promotes at most; the rest wait for the next claim.
  static constexpr int kMaxPromote = 10000;
  static constexpr int64_t kOutgrownFactor = 4;
  static constexpr int64_t kOutgrownSlack = 10000;
  static constexpr std::chrono::seconds kMinAnalyzeInterval{10};
  std::mutex analyze_mu_;
  std::chrono::steady_clock::time_point last_analyze_;  // guarded by analyze_mu_

  ReadyIndex ready_;
  DueIndex due_;
  std::atomic<bool> ready_loaded_{false};
  std::mutex reload_mu_;  // one reload at a time
  // CheckReadyIndex's last shortfall; guarded by reload_mu_.
  std::map<std::pair<std::string, int>, int64_t> last_missing_;
  std::atomic<int64_t> reloads_{0};
  ClaimsInFlight claims_in_flight_;
  RunIdCache run_ids_;  // tasks' job runs (run_ref) to run ids
};

}  // namespace sluice

#endif  // SLUICE_SERVER_STORE_PG_QUEUE_STORE_H_
