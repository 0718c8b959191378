// Every statement of the queue store (PgQueueStore), by name, in one place.
// Task states are the queue's constants (TaskState), spelled into the SQL
// here. Claims rank the queue in memory (server/queue/ready_index.h) and
// lease the chosen rows with kLeaseChosen.
//
// Table and column names that come from a TaskKind are constants of the
// module that registered the kind, never input; values are always bound.
#ifndef SLUICE_SERVER_STORE_QUEUE_SQL_H_
#define SLUICE_SERVER_STORE_QUEUE_SQL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/queue/queue_types.h"
#include "server/queue/task_kinds.h"

namespace sluice::queue_sql {

inline const std::string kReady = std::to_string(StateValue(TaskState::kReady));
inline const std::string kLeased = std::to_string(StateValue(TaskState::kLeased));
inline const std::string kWaiting = std::to_string(StateValue(TaskState::kWaiting));

// A queue row as the ready index keeps it (server/queue/ready_index.h):
// task id, kind, priority, weight, last_modified in microseconds, state,
// enqueued_at in microseconds. `q` is the alias of discovery_queue, or empty
// where it has none.
inline std::string ReadyColumns(const std::string& q) {
  const std::string p = q.empty() ? "" : q + ".";
  return p + "task_id, " + p + "kind, " + p + "priority, " + p + "weight, (EXTRACT(EPOCH FROM " +
         p + "last_modified) * 1000000)::bigint, " + p + "state, (EXTRACT(EPOCH FROM " + p +
         "enqueued_at) * 1000000)::bigint";
}
inline constexpr int kReadyColumnCount = 7;

// A queue row as both indexes need it: ReadyColumns, then when it becomes
// due (available_at in microseconds, NULL for a ready row) and whom it is
// leased to (server/queue/due_index.h).
inline std::string QueueColumns(const std::string& q) {
  const std::string p = q.empty() ? "" : q + ".";
  return ReadyColumns(q) + ", (EXTRACT(EPOCH FROM " + p + "available_at) * 1000000)::bigint, " + p +
         "leased_by";
}

// Every row, for (re)building the ready and due indexes, in one snapshot;
// the store reads it with a cursor (one sequential scan: no index on the
// state is left to read them by, db/migrations/0020_hot_leases.sql).
inline const std::string kLoadQueue = "SELECT " + QueueColumns("") + " FROM discovery_queue";

// Leases that ran out and backoffs that ended, chosen in the due index,
// become ready again (the lapsed-lease trigger of 0013 counts the attempt):
// by primary key, and only those the table says are still not ready and
// due (the index may hold a row a moment too long). Rows another statement
// holds are skipped, not waited for: the store reads them back (kQueueRows)
// and puts them back in the due index. $1 now, $2 task ids.
inline const std::string kPromoteChosen =
    absl::StrCat("UPDATE discovery_queue AS q SET state = ", kReady,
                 ", available_at = NULL, locked_until = NULL "
                 "WHERE q.task_id IN (SELECT d.task_id FROM discovery_queue d "
                 "WHERE d.task_id = ANY($2::bigint[]) AND d.state <> ",
                 kReady,
                 " AND d.available_at <= $1::timestamptz "
                 "ORDER BY d.task_id FOR UPDATE SKIP LOCKED) RETURNING ",
                 ReadyColumns("q"));

// Rows as they are now (QueueColumns), by primary key. $1 task ids.
inline const std::string kQueueRows =
    "SELECT " + QueueColumns("") + " FROM discovery_queue WHERE task_id = ANY($1::bigint[])";

// Leases the rows a claim chose in the ready index, those still ready: a
// row that is not (the index held it a moment too long) is left out, and the
// claim takes the next one. The rows are found by `task_id = ANY`, never by
// a join: the planner costs a join of the chosen ids to the table by the
// table's statistics, and statistics taken while the queue had drained (an
// autovacuum ANALYZE between two bursts) made it hash the whole table for
// groups of a hundred callers or more, one full scan per claim (the lock of
// a completion batch, kLockBatch, went quadratic the same way). Each row's
// slot comes from a JSON object keyed by task id, looked up per row, so
// nothing is joined. The etag is a subquery, one index probe per task; the
// job run (run_ref, NULL for none) is resolved to its id by the store
// (kRunIds). $1 task ids, $2 {"task id": slot (1-based)}, $3 each slot's
// lease end, $4 each slot's agent.
inline const std::string kLeaseChosen =
    absl::StrCat(R"sql(
UPDATE discovery_queue AS q
   SET state = )sql",
                 kLeased, R"sql(, lease_token = nextval('lease_token_seq'),
       locked_until = ($3::timestamptz[])[($2::jsonb ->> q.task_id::text)::int],
       available_at = ($3::timestamptz[])[($2::jsonb ->> q.task_id::text)::int],
       leased_by = ($4::text[])[($2::jsonb ->> q.task_id::text)::int]
 WHERE q.task_id = ANY($1::bigint[]) AND q.state = )sql",
                 kReady, R"sql(
RETURNING ($2::jsonb ->> q.task_id::text)::int, q.task_id, q.kind, q.entity_id, q.lease_token,
          EXTRACT(EPOCH FROM q.locked_until)::DOUBLE PRECISION, q.attempts, q.priority,
          COALESCE((SELECT e.etag FROM entity_cache e
                     WHERE e.kind = q.kind AND e.entity_id = q.entity_id), ''),
          q.run_ref)sql");

// kLeaseChosen's $2: ids[i] is leased into slots[i].
inline std::string SlotsByTaskId(const std::vector<int64_t>& ids,
                                 const std::vector<int64_t>& slots) {
  std::string json = "{";
  for (size_t i = 0; i < ids.size() && i < slots.size(); ++i) {
    absl::StrAppend(&json, i == 0 ? "\"" : ",\"", ids[i], "\":", slots[i]);
  }
  return json + "}";
}

// A claim's transaction commits without waiting for its WAL to reach disk
// (PgQueueStore::set_synchronous_claims says why that is safe). Completions,
// failures and enqueues keep the server's setting.
inline constexpr char kClaimCommitsAsynchronously[] = "SET LOCAL synchronous_commit = off";

// $1 task, $2 token, $3 lease until. Returns the kind and the agent, for
// the due index.
inline const std::string kExtend =
    absl::StrCat("UPDATE discovery_queue SET state = ", kLeased,
                 ", locked_until = $3::timestamptz, available_at = $3::timestamptz "
                 "WHERE task_id = $1 AND lease_token = $2 RETURNING kind, leased_by");

// The batch's tasks still holding the presented tokens, locked in task order
// (so two batches never wait for each other in opposite orders), with what
// their last full answer discovered ('' unless the task is in $3: only a 304
// without discoveries replays them, and the cache probe is skipped for the
// others), and their job run (0 = none). $1 task ids, $2 tokens, $3 task ids
// whose stored discoveries are replayed.
//
// Ids and tokens are matched as two sets, not joined pairwise with
// unnest($1, $2): statistics taken while the queue was nearly empty (an
// autovacuum ANALYZE between two bursts) made the planner join the batch to
// a whole-table scan in a nested loop, 1,000 ids x 100,000 rows, 5-19 s per
// statement; an index scan on `task_id = ANY` reads only the batch's rows
// whatever the statistics say. A lease token is issued once, so a row
// holding a presented token is that token's task; CompletionPlan pairs each
// completion with its row by (task, token).
inline constexpr char kLockBatch[] = R"sql(
SELECT q.task_id, q.lease_token, q.kind, q.entity_id, q.priority, q.weight,
       CASE WHEN q.task_id = ANY($3::bigint[])
            THEN COALESCE((SELECT e.discovered::text FROM entity_cache e
                            WHERE e.kind = q.kind AND e.entity_id = q.entity_id), '')
            ELSE '' END,
       EXTRACT(EPOCH FROM q.enqueued_at)::float8, COALESCE(q.run_ref, 0)
  FROM discovery_queue q
 WHERE q.task_id = ANY($1::bigint[]) AND q.lease_token = ANY($2::bigint[])
 ORDER BY q.task_id
   FOR UPDATE OF q)sql";

// Of the rows the due index says an agent holds, those the table says it
// does. $1 agent id, $2 task ids.
inline const std::string kLeasesHeldBy = absl::StrCat(
    "SELECT task_id, lease_token FROM discovery_queue WHERE task_id = ANY($2::bigint[])"
    " AND state = ",
    kLeased, " AND leased_by = $1 ORDER BY task_id");

// $1 task, $2 token.
inline constexpr char kLockByToken[] = R"sql(
SELECT kind, entity_id, priority, weight, attempts, COALESCE(run_ref, 0) FROM discovery_queue
 WHERE task_id = $1 AND lease_token = $2 FOR UPDATE)sql";

// $1 rows (JSON: kind, entity_id, etag, expires_at, discovered), $2 now.
inline constexpr char kUpsertCacheBatch[] = R"sql(
INSERT INTO entity_cache (kind, entity_id, etag, expires_at, checked_at, discovered)
SELECT x.kind, x.entity_id, NULLIF(x.etag, ''), NULLIF(x.expires_at, '')::timestamptz,
       $2::timestamptz, x.discovered
  FROM jsonb_to_recordset($1::jsonb) AS x(kind TEXT, entity_id BIGINT, etag TEXT, expires_at TEXT,
                                          discovered JSONB)
 ORDER BY x.kind, x.entity_id
ON CONFLICT (kind, entity_id) DO UPDATE SET
  etag = COALESCE(EXCLUDED.etag, entity_cache.etag),
  expires_at = COALESCE(EXCLUDED.expires_at, entity_cache.expires_at),
  checked_at = EXCLUDED.checked_at,
  discovered = COALESCE(EXCLUDED.discovered, entity_cache.discovered))sql";

// Already queued discoveries: raise their priority, but never wait for a row
// another batch holds (it is being completed, failed or leased right now);
// waiting here while holding our own task rows is how two batches that
// discover each other's entities deadlock. $1 kind, $2 ids, $3 priority.
// Returns the rows raised (ReadyColumns), for the ready index.
inline const std::string kRaiseDiscoveredPriority = R"sql(
UPDATE discovery_queue q SET priority = $3
  FROM (SELECT task_id FROM discovery_queue
         WHERE kind = $1 AND entity_id = ANY($2::bigint[]) AND priority < $3
         ORDER BY task_id
           FOR UPDATE SKIP LOCKED) l
 WHERE q.task_id = l.task_id
RETURNING )sql" + ReadyColumns("q");

// Tasks a batch has just queued for entities another batch refreshed
// meanwhile. InsertTasks judges freshness on its snapshot; when the entity's
// own task is being completed at that moment, the insert waits for that
// batch's row lock and, once it commits (deleting the row), inserts anyway:
// the entity would be fetched twice. This statement's snapshot sees that
// commit. $1 task ids just inserted, $2 fresh after. Returns the dropped ids.
inline constexpr char kDropRefreshedMeanwhile[] = R"sql(
DELETE FROM discovery_queue q USING entity_cache c
 WHERE q.task_id = ANY($1::bigint[]) AND c.kind = q.kind AND c.entity_id = q.entity_id
   AND c.checked_at >= $2::timestamptz
RETURNING q.task_id)sql";

// A job run's row reference (job_runs.ref), for the tasks it queues. $1 run id.
inline constexpr char kRunRef[] = "SELECT ref FROM job_runs WHERE run_id = $1";

// The run ids of job run references (a lease's tasks). $1 refs.
inline constexpr char kRunIds[] = "SELECT ref, run_id FROM job_runs WHERE ref = ANY($1::bigint[])";

// $1 task ids.
inline constexpr char kDeleteTasks[] =
    "DELETE FROM discovery_queue WHERE task_id = ANY($1::bigint[])";

// Kept for its next turn (a stream). $1 task, $2 ready at, $3 now.
inline const std::string kRequeue =
    absl::StrCat("UPDATE discovery_queue SET state = ", kWaiting,
                 ", attempts = 0, available_at = $2::timestamptz, last_modified = $3::timestamptz, "
                 "locked_until = NULL, lease_token = NULL, leased_by = NULL, last_error = NULL "
                 "WHERE task_id = $1");

// Handed back unstarted. $1 task, $2 ready at.
inline const std::string kRelease =
    absl::StrCat("UPDATE discovery_queue SET state = ", kWaiting,
                 ", available_at = $2::timestamptz, locked_until = NULL, lease_token = NULL, "
                 "leased_by = NULL WHERE task_id = $1");

// A transient failure. $1 task, $2 attempts, $3 ready at, $4 error.
inline const std::string kRetryLater = absl::StrCat(
    "UPDATE discovery_queue SET state = ", kWaiting,
    ", attempts = $2, available_at = $3::timestamptz, locked_until = NULL, lease_token = NULL, "
    "leased_by = NULL, last_error = $4 WHERE task_id = $1");

// $1 kind, $2 entity, $3 attempts, $4 status, $5 error, $6 agent, $7 now.
inline constexpr char kDeadLetter[] = R"sql(
INSERT INTO dead_tasks (kind, entity_id, attempts, http_status, error, agent_id, failed_at)
VALUES ($1, $2, $3, NULLIF($4, 0), $5, $6, $7::timestamptz)
ON CONFLICT (kind, entity_id) DO UPDATE SET attempts = EXCLUDED.attempts,
  http_status = EXCLUDED.http_status, error = EXCLUDED.error,
  agent_id = EXCLUDED.agent_id, failed_at = EXCLUDED.failed_at)sql";

// $1 task.
inline constexpr char kDeleteTask[] = "DELETE FROM discovery_queue WHERE task_id = $1";

// Per-kind counts (db/migrations/0010_queue_counts.sql): the folded counts
// plus the deltas not folded yet, in one snapshot. State 3 is dead-lettered.
inline constexpr int kDeadCountState = 3;
inline constexpr char kFoldCounts[] = "SELECT sluice_fold_queue_counts()";
inline constexpr char kCounts[] = R"sql(
SELECT kind, state, sum(n)::bigint FROM (
  SELECT kind, state, n FROM queue_counts
  UNION ALL
  SELECT kind, state, n FROM queue_count_deltas) x
 GROUP BY kind, state)sql";

// How many rows the planner believes the queue holds: pg_class's
// estimate, scaled to the table's pages now, as the planner scales it.
inline constexpr char kPlannerQueueRows[] = R"sql(
SELECT CASE WHEN c.relpages > 0 AND c.reltuples >= 0
            THEN c.reltuples / c.relpages *
                 (pg_relation_size(c.oid) / current_setting('block_size')::int)
            ELSE greatest(c.reltuples, 0) END::bigint
  FROM pg_class c WHERE c.oid = 'discovery_queue'::regclass)sql";
inline constexpr char kAnalyzeQueue[] = "ANALYZE discovery_queue";
// ANALYZE waits for a VACUUM of the table to end; autovacuum's may take
// minutes, and a wait longer than deadlock_timeout (1 s by default) would
// cancel it. The caller gives up instead and tries again later.
inline constexpr char kAnalyzeLockTimeout[] = "SET LOCAL lock_timeout = '500ms'";

// $1 kind, $2 candidate ids.
inline constexpr char kUnqueued[] = R"sql(
SELECT i.id FROM (SELECT DISTINCT unnest($2::bigint[]) AS id) i
 WHERE NOT EXISTS (SELECT 1 FROM discovery_queue q WHERE q.kind = $1 AND q.entity_id = i.id)
   AND NOT EXISTS (SELECT 1 FROM dead_tasks d WHERE d.kind = $1 AND d.entity_id = i.id)
 ORDER BY 1)sql";

// $1 kind, $2 ids.
inline constexpr char kCountFirstAttempts[] = R"sql(
SELECT count(*) FROM discovery_queue
 WHERE kind = $1 AND entity_id = ANY($2::bigint[]) AND attempts = 0)sql";

// How InsertTasks treats an id that is queued already.
enum class OnQueued {
  // An enqueue: keep the higher priority, count the access (when asked).
  kRaisePriority,
  // A discovery: leave it alone (no row lock waited for; see
  // kRaiseDiscoveredPriority).
  kLeave,
};

// How InsertTasks treats an id whose stored Expires is still in the future.
// ESI: "Circumventing the ESI caching can get you banned"; a resource is
// never fetched again before its Expires, whatever the priority. This is the
// one place the rule is decided: every task is queued through InsertTasks.
enum class WhenFresh {
  // Queued waiting (state kWaiting) with available_at = the stored Expires,
  // so no claim sees it before then (the promotion makes it ready).
  kWaitForExpires,
  // Not queued at all: the database already holds the upstream's current
  // answer (a `user` request, whose access the caller counts anyway).
  kAnswerFromDatabase,
};

// The column InsertTasks adds after ReadyColumns: when a row queued waiting
// for its Expires becomes due, in microseconds (NULL for a ready row).
inline constexpr int kInsertedDueColumn = 1 + kReadyColumnCount;

// Queues ids of one kind. $1 kind, $2 ids, $3 priority, $4 now, $5 force,
// $6 freshness cutoff, $7 access increments already applied to existing
// entity rows (a user's enqueue), counted on the task when no row exists,
// $8 the job run queueing them (job_runs.ref, 0 = none; a row already
// queued outside any run joins it).
// Ids are deduplicated and sorted, so concurrent writers lock rows in the
// same order. Returns (xmax = 0) AS inserted, then ReadyColumns, then the
// due time (kInsertedDueColumn), per row touched. An id whose entity_cache
// Expires is after $4 is treated as `when_fresh` says; a row already queued
// keeps its state.
inline std::string InsertTasks(const TaskKind& kind, OnQueued on_queued, bool count_access,
                               WhenFresh when_fresh = WhenFresh::kWaitForExpires) {
  // $7 is referenced on every path: PostgreSQL rejects parameters it cannot type.
  std::string weight = "0 * $7::bigint + 1";
  std::string join;
  if (!kind.entity_table.empty()) {
    weight = "COALESCE(s.access_count, $7::bigint) + 1";
    join = " LEFT JOIN " + kind.entity_table + " s ON s." + kind.entity_key + " = i.id";
  }
  const std::string fresh = "c.expires_at > $4::timestamptz";
  std::string sql =
      "INSERT INTO discovery_queue (kind, entity_id, priority, weight, last_modified, "
      "enqueued_at, state, available_at, run_ref) "
      "SELECT $1, i.id, $3, " +
      weight + ", COALESCE(c.checked_at, 'epoch'), $4::timestamptz, CASE WHEN " + fresh + " THEN " +
      kWaiting + " ELSE " + kReady + " END, CASE WHEN " + fresh +
      " THEN c.expires_at END, NULLIF($8::bigint, 0) "
      "FROM (SELECT DISTINCT unnest($2::bigint[]) AS id ORDER BY 1) i "
      "LEFT JOIN entity_cache c ON c.kind = $1 AND c.entity_id = i.id" +
      join + " WHERE ($5::boolean OR c.checked_at IS NULL OR c.checked_at < $6::timestamptz) ";
  if (when_fresh == WhenFresh::kAnswerFromDatabase)
    sql += "AND NOT COALESCE(" + fresh + ", false) ";
  sql += "ORDER BY i.id ";
  const std::string returning = " RETURNING (xmax = 0) AS inserted, " + ReadyColumns("") +
                                ", (EXTRACT(EPOCH FROM available_at) * 1000000)::bigint";
  if (on_queued == OnQueued::kLeave)
    return sql + "ON CONFLICT (kind, entity_id) DO NOTHING" + returning;
  sql +=
      "ON CONFLICT (kind, entity_id) DO UPDATE SET "
      "priority = GREATEST(discovery_queue.priority, EXCLUDED.priority), "
      "run_ref = COALESCE(discovery_queue.run_ref, EXCLUDED.run_ref)";
  if (count_access) sql += ", weight = GREATEST(discovery_queue.weight + $7, EXCLUDED.weight)";
  return sql + returning;
}

// $1 ids.
inline std::string CountAccess(const TaskKind& kind) {
  return "UPDATE " + kind.entity_table + " SET access_count = access_count + 1 WHERE " +
         kind.entity_key + " = ANY($1::bigint[])";
}

// Accesses counted while the entity had no row. $1 entity, $2 accesses.
inline std::string CarryAccess(const TaskKind& kind) {
  return "UPDATE " + kind.entity_table + " SET access_count = GREATEST(access_count, $2) WHERE " +
         kind.entity_key + " = $1";
}

// A 304: the entity is fresh, its data unchanged. $1 ids, $2 now.
inline std::string Touch(const TaskKind& kind) {
  return "UPDATE " + kind.entity_table + " SET last_modified = $2::timestamptz WHERE " +
         kind.entity_key + " = ANY($1::bigint[])";
}

// $1 since ('' = no cutoff).
inline std::string CountEntities(const TaskKind& kind) {
  return "SELECT count(*), count(*) FILTER (WHERE $1 <> '' AND "
         "last_modified >= NULLIF($1, '')::timestamptz) FROM " +
         kind.entity_table;
}

// $1 after, $2 limit.
inline std::string EntityIdsAfter(const TaskKind& kind) {
  return "SELECT " + kind.entity_key + " FROM " + kind.entity_table + " WHERE " + kind.entity_key +
         " > $1 ORDER BY 1 LIMIT $2";
}

}  // namespace sluice::queue_sql

#endif  // SLUICE_SERVER_STORE_QUEUE_SQL_H_
