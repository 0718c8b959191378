#include "server/store/pg_queue_store.h"

#include <glog/logging.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "common/time_util.h"
#include "server/queue/task_kinds.h"
#include "server/store/entity_writer.h"
#include "server/store/savepoint.h"
#include "server/store/task_extension.h"

namespace sluice {
namespace {

constexpr char kClaim[] = R"sql(
SELECT c.task_id, c.kind, c.entity_id, c.lease_token,
       EXTRACT(EPOCH FROM c.locked_until)::DOUBLE PRECISION, c.attempts, c.priority,
       COALESCE(e.etag, '')
  FROM sluice_claim($1::text[], $2, $3::timestamptz, $4::timestamptz, $5) c
  LEFT JOIN entity_cache e ON e.kind = c.kind AND e.entity_id = c.entity_id)sql";

constexpr char kExtend[] = R"sql(
UPDATE discovery_queue SET state = 1, locked_until = $3::timestamptz, available_at = $3::timestamptz
 WHERE task_id = $1 AND lease_token = $2
RETURNING 1)sql";

constexpr char kLockBatch[] = R"sql(
SELECT q.task_id, q.lease_token, q.kind, q.entity_id, q.priority, q.weight,
       COALESCE(e.discovered::text, '')
  FROM discovery_queue q
  JOIN unnest($1::bigint[], $2::bigint[]) AS b(task_id, token)
    ON q.task_id = b.task_id AND q.lease_token = b.token
  LEFT JOIN entity_cache e ON e.kind = q.kind AND e.entity_id = q.entity_id
 ORDER BY q.task_id
   FOR UPDATE OF q)sql";

constexpr char kLockByToken[] = R"sql(
SELECT kind, entity_id, priority, weight, attempts FROM discovery_queue
 WHERE task_id = $1 AND lease_token = $2 FOR UPDATE)sql";

constexpr char kUpsertCacheBatch[] = R"sql(
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

constexpr char kDeleteTask[] = "DELETE FROM discovery_queue WHERE task_id = $1";

// Queue ids of one kind. $5 = force, $6 = freshness cutoff, $7 = access
// increments already applied (USER enqueue), used when no entity row exists.
// Ids are deduplicated and sorted so concurrent writers lock rows in the same
// order (no deadlocks between overlapping discoveries).
std::string InsertTasksSql(const TaskKind& kind, bool count_access) {
  // $7 is referenced on every path: PostgreSQL rejects parameters it cannot type.
  std::string weight = "0 * $7::bigint + 1";
  std::string join;
  if (!kind.entity_table.empty()) {
    weight = "COALESCE(s.access_count, $7::bigint) + 1";
    join = " LEFT JOIN " + kind.entity_table + " s ON s." + kind.entity_key + " = i.id";
  }
  std::string sql =
      "INSERT INTO discovery_queue (kind, entity_id, priority, weight, last_modified, "
      "enqueued_at) "
      "SELECT $1, i.id, $3, " + weight +
      ", COALESCE(c.checked_at, 'epoch'), $4::timestamptz "
      "FROM (SELECT DISTINCT unnest($2::bigint[]) AS id ORDER BY 1) i "
      "LEFT JOIN entity_cache c ON c.kind = $1 AND c.entity_id = i.id" +
      join +
      " WHERE $5::boolean OR c.checked_at IS NULL OR c.checked_at < $6::timestamptz "
      "ORDER BY i.id "
      "ON CONFLICT (kind, entity_id) DO UPDATE SET "
      "priority = GREATEST(discovery_queue.priority, EXCLUDED.priority)";
  if (count_access) {
    sql += ", weight = GREATEST(discovery_queue.weight + $7, EXCLUDED.weight)";
  }
  sql += " RETURNING (xmax = 0) AS inserted";
  return sql;
}

// Discovered ids: like InsertTasksSql without access counting, but an id
// already queued is left alone (no row lock is waited for); returns one row
// per task inserted.
std::string InsertDiscoveredSql(const TaskKind& kind) {
  std::string weight = "1";
  std::string join;
  if (!kind.entity_table.empty()) {
    weight = "COALESCE(s.access_count, 0) + 1";
    join = " LEFT JOIN " + kind.entity_table + " s ON s." + kind.entity_key + " = i.id";
  }
  return "INSERT INTO discovery_queue (kind, entity_id, priority, weight, last_modified, "
         "enqueued_at) "
         "SELECT $1, i.id, $3, " + weight +
         ", COALESCE(c.checked_at, 'epoch'), $4::timestamptz "
         "FROM (SELECT DISTINCT unnest($2::bigint[]) AS id ORDER BY 1) i "
         "LEFT JOIN entity_cache c ON c.kind = $1 AND c.entity_id = i.id" +
         join +
         " WHERE $5::boolean OR c.checked_at IS NULL OR c.checked_at < $6::timestamptz "
         "ORDER BY i.id "
         "ON CONFLICT (kind, entity_id) DO NOTHING RETURNING task_id";
}

constexpr char kRaiseDiscoveredPriority[] = R"sql(
UPDATE discovery_queue q SET priority = $3
  FROM (SELECT task_id FROM discovery_queue
         WHERE kind = $1 AND entity_id = ANY($2::bigint[]) AND priority < $3
         ORDER BY task_id
           FOR UPDATE SKIP LOCKED) l
 WHERE q.task_id = l.task_id)sql";

nlohmann::json DiscoveriesToJson(const std::vector<Discovery>& discovered) {
  nlohmann::json out = nlohmann::json::array();
  for (const Discovery& d : discovered) {
    out.push_back({{"kind", d.kind}, {"ids", d.ids}, {"force", d.force}});
  }
  return out;
}

// Stored by this coordinator, so malformed content means corruption: it is
// logged and treated as "nothing to replay" rather than failing the commit.
std::vector<Discovery> DiscoveriesFromJson(const std::string& text) {
  std::vector<Discovery> out;
  if (text.empty()) return out;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_array()) {
    LOG(ERROR) << "entity_cache.discovered is not a JSON array; not replaying it";
    return out;
  }
  for (const auto& d : j) {
    if (!d.is_object() || !d.value("kind", nlohmann::json()).is_string() ||
        !d.value("ids", nlohmann::json()).is_array()) {
      continue;
    }
    Discovery disc;
    disc.kind = d["kind"].get<std::string>();
    for (const auto& id : d["ids"]) {
      if (id.is_number_integer()) disc.ids.push_back(id.get<int64_t>());
    }
    disc.force = d.value("force", false);
    out.push_back(std::move(disc));
  }
  return out;
}

absl::Status StaleToken(int64_t task_id, int64_t token) {
  return absl::FailedPreconditionError(
      "task " + std::to_string(task_id) + " is not leased with fencing token " +
      std::to_string(token) + " (the lease expired and was re-leased, or the task is done)");
}

int64_t RecordId(const v1::EntityRecord& r) {
  switch (r.record_case()) {
    case v1::EntityRecord::kAlliance:
      return r.alliance().alliance_id();
    case v1::EntityRecord::kCorporation:
      return r.corporation().corporation_id();
    case v1::EntityRecord::kCharacter:
      return r.character().character_id();
    default:
      return 0;
  }
}

// A task may only write the entity it was leased for: a confused or hostile
// agent must not overwrite other rows through a lease it holds.
absl::Status CheckRecordFitsTask(const TaskKind& kind, int64_t entity_id,
                                 const v1::EntityRecord& r, size_t index) {
  const std::string field = "records[" + std::to_string(index) + "]";
  if (r.record_case() != kind.record || kind.record == v1::EntityRecord::RECORD_NOT_SET) {
    return absl::InvalidArgumentError(field + ": a '" + kind.name +
                                      "' task cannot carry this record type");
  }
  if (RecordId(r) != entity_id) {
    return absl::InvalidArgumentError(field + ": record id " + std::to_string(RecordId(r)) +
                                      " does not match the task's entity id " +
                                      std::to_string(entity_id));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<LeasedTask>> PgQueueStore::Claim(const std::vector<std::string>& kinds,
                                                            int limit, TimePoint now,
                                                            TimePoint lease_until,
                                                            const std::string& agent_id) {
  std::vector<LeasedTask> out;
  absl::Status s = pool_->Run([&](pqxx::connection& conn) {
    pqxx::work w(conn);
    auto res = w.exec_params(kClaim, PgTextArray(kinds), limit, FormatRfc3339(now),
                             FormatRfc3339(lease_until), agent_id);
    out.clear();
    out.reserve(res.size());
    for (const auto& row : res) {
      LeasedTask t;
      t.task_id = row[0].as<int64_t>();
      t.kind = row[1].c_str();
      t.entity_id = row[2].as<int64_t>();
      t.fencing_token = row[3].as<int64_t>();
      t.locked_until = FromUnixSeconds(row[4].as<double>());
      t.attempts = row[5].as<int>();
      t.priority = row[6].as<int>();
      t.etag = row[7].c_str();
      out.push_back(std::move(t));
    }
    // Workflow kinds add their context in the claim's transaction: if that
    // fails, the claim rolls back and nothing is leased.
    std::map<TaskExtension*, std::vector<LeasedTask*>> by_extension;
    for (LeasedTask& t : out) {
      if (TaskExtension* ext = FindTaskExtension(t.kind)) by_extension[ext].push_back(&t);
    }
    for (auto& [ext, tasks] : by_extension) {
      absl::Status filled = ext->FillContext(w, tasks, now);
      if (!filled.ok()) return filled;
    }
    w.commit();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<TimePoint> PgQueueStore::Extend(int64_t task_id, int64_t fencing_token,
                                               TimePoint lease_until) {
  bool found = false;
  absl::Status s = pool_->Run([&](pqxx::connection& conn) {
    pqxx::work w(conn);
    found = !w.exec_params(kExtend, task_id, fencing_token, FormatRfc3339(lease_until)).empty();
    w.commit();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (!found) return StaleToken(task_id, fencing_token);
  return lease_until;
}

std::vector<absl::StatusOr<CompletionOutcome>> PgQueueStore::CompleteBatch(
    const std::vector<const Completion*>& batch, TimePoint now, TimePoint fresh_after) {
  std::vector<absl::StatusOr<CompletionOutcome>> results(batch.size(), CompletionOutcome{});
  absl::Status s = pool_->Run([&](pqxx::connection& conn) -> absl::Status {
    // Reset per attempt: Run may be retried with a fresh connection.
    for (auto& r : results) r = CompletionOutcome{};
    pqxx::work w(conn);

    // Lock every task of the batch that still holds the presented token.
    std::vector<int64_t> ids, tokens;
    for (const Completion* c : batch) {
      ids.push_back(c->task_id);
      tokens.push_back(c->fencing_token);
    }
    struct Locked {
      std::string kind;
      int64_t entity_id;
      int priority;
      int64_t weight;
      std::string last_discovered;  // JSON, from the last full answer
    };
    std::map<std::pair<int64_t, int64_t>, Locked> locked;
    for (const auto& row : w.exec_params(kLockBatch, PgArray(ids), PgArray(tokens))) {
      locked[{row[0].as<int64_t>(), row[1].as<int64_t>()}] =
          Locked{row[2].c_str(), row[3].as<int64_t>(), row[4].as<int>(), row[5].as<int64_t>(),
                 row[6].c_str()};
    }

    // Decide which completions go in; the rest write nothing.
    std::vector<v1::EntityRecord> records;
    std::map<const TaskKind*, std::vector<int64_t>> touched;  // 304'd entity ids
    nlohmann::json cache = nlohmann::json::array();
    std::vector<int64_t> done;
    std::vector<std::pair<int64_t, TimePoint>> requeued;  // task, ready again at
    // (kind, priority, force) -> ids, and which completions contributed.
    std::map<std::tuple<std::string, int, bool>, std::vector<int64_t>> discoveries;
    // Accesses counted while an entity had no row yet live on its task.
    std::vector<std::tuple<const TaskKind*, int64_t, int64_t>> access_carry;
    std::set<int64_t> seen;
    std::vector<std::vector<Discovery>> effective(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      const Completion& c = *batch[i];
      auto it = locked.find({c.task_id, c.fencing_token});
      if (it == locked.end() || !seen.insert(c.task_id).second) {
        results[i] = StaleToken(c.task_id, c.fencing_token);
        continue;
      }
      const Locked& t = it->second;
      const TaskKind* kind = FindTaskKind(t.kind);
      if (kind == nullptr) {
        results[i] = absl::InternalError("queued task has unknown kind " + t.kind);
        continue;
      }
      absl::Status valid;
      for (size_t r = 0; r < c.records.size() && valid.ok(); ++r) {
        valid = CheckRecordFitsTask(*kind, t.entity_id, c.records[r], r);
      }
      if (!valid.ok()) {
        results[i] = valid;
        continue;
      }
      std::optional<Duration> requeue_after;
      std::vector<Discovery> payload_discovered;
      if (TaskExtension* ext = FindTaskExtension(t.kind)) {
        // A savepoint per payload: a payload that fails rolls back alone.
        absl::StatusOr<PayloadOutcome> applied;
        {
          Savepoint sp(w, "sluice_payload");
          try {
            applied = ext->Apply(w, ExtensionTask{c.task_id, t.kind, t.entity_id, t.priority},
                                 c, now);
          } catch (const pqxx::broken_connection&) {
            throw;  // the whole batch is lost: Run maps it to UNAVAILABLE
          } catch (const pqxx::sql_error& e) {
            const std::string state = e.sqlstate();
            // A deadlock or serialisation failure is nobody's fault: the
            // whole batch aborts and is retried (completion_batcher.cc).
            if (state.rfind("40", 0) == 0) throw;
            // Data the database refuses (a constraint) is the payload's
            // fault; anything else is ours.
            const std::string what = "payload rejected by the database: " +
                                     std::string(e.what()).substr(0, 500);
            applied = state.rfind("23", 0) == 0 || state.rfind("22", 0) == 0
                          ? absl::InvalidArgumentError(what)
                          : absl::InternalError(what);
          }
          if (applied.ok()) {
            sp.Release();
          } else {
            sp.RollBack();
          }
        }
        if (!applied.ok()) {
          results[i] = applied.status();
          continue;
        }
        if (!applied->rejection.ok()) {
          // Refused, but its audit writes and the requeue commit.
          results[i] = applied->rejection;
          if (applied->requeue_after.has_value()) {
            requeued.emplace_back(c.task_id, now + *applied->requeue_after);
          }
          continue;
        }
        results[i]->records_written += applied->records_written;
        requeue_after = applied->requeue_after;
        payload_discovered = std::move(applied->discovered);
      } else if (c.payload.has_value()) {
        results[i] = absl::InvalidArgumentError("payload: a '" + t.kind +
                                                "' task carries no payload");
        continue;
      }
      if (c.not_modified) {
        touched[kind].push_back(t.entity_id);
      } else {
        records.insert(records.end(), c.records.begin(), c.records.end());
        results[i]->records_written += static_cast<int>(c.records.size());
      }
      if (!kind->entity_table.empty() && t.weight > 1) {
        access_carry.emplace_back(kind, t.entity_id, t.weight - 1);
      }
      // A 304 has no body: replay what the last full answer discovered.
      effective[i] = c.not_modified && c.discovered.empty() ? DiscoveriesFromJson(t.last_discovered)
                                                            : c.discovered;
      effective[i].insert(effective[i].end(), payload_discovered.begin(), payload_discovered.end());
      cache.push_back({{"kind", t.kind},
                       {"entity_id", t.entity_id},
                       {"etag", c.etag},
                       {"expires_at", c.expires ? FormatRfc3339(*c.expires) : std::string()},
                       {"discovered", c.not_modified ? nlohmann::json(nullptr)
                                                     : DiscoveriesToJson(c.discovered)}});
      for (const Discovery& d : effective[i]) {
        if (FindTaskKind(d.kind) == nullptr || d.ids.empty()) continue;  // validated upstream
        auto& v = discoveries[{d.kind, t.priority, d.force}];
        v.insert(v.end(), d.ids.begin(), d.ids.end());
      }
      if (requeue_after.has_value()) {
        requeued.emplace_back(c.task_id, now + *requeue_after);
        results[i]->requeued_now = *requeue_after <= Duration::zero();
      } else {
        done.push_back(c.task_id);
      }
    }
    if (done.empty() && requeued.empty()) return absl::OkStatus();
    Hook("locked");

    const std::string now_text = FormatRfc3339(now);
    WriteEntityRecords(w, records, now);
    for (const auto& [kind, touched_ids] : touched) {
      TouchEntities(w, kind->entity_table, kind->entity_key, touched_ids, now);
    }
    for (const auto& [kind, entity_id, accesses] : access_carry) {
      w.exec_params("UPDATE " + kind->entity_table +
                        " SET access_count = GREATEST(access_count, $2) WHERE " +
                        kind->entity_key + " = $1",
                    entity_id, accesses);
    }
    w.exec_params(kUpsertCacheBatch, cache.dump(), now_text);
    Hook("entities");

    // Discovered tasks: counted per completion would need one statement per
    // completion; the batch-level count is attributed to the first completion
    // that discovered something of that group.
    for (const auto& [key, disc_ids] : discoveries) {
      const auto& [kind_name, priority, force] = key;
      const std::string ids_text = PgArray(disc_ids);
      auto res = w.exec_params(InsertDiscoveredSql(*FindTaskKind(kind_name)), kind_name, ids_text,
                               priority, now_text, force, FormatRfc3339(fresh_after));
      const int inserted_rows = static_cast<int>(res.size());
      // Already queued: raise the priority, but never wait for a row another
      // batch holds (it is being completed, failed or leased right now).
      // Waiting here, while holding our own task rows, is how two batches
      // that discover each other's entities deadlock.
      w.exec_params(kRaiseDiscoveredPriority, kind_name, ids_text, priority);
      int inserted = inserted_rows;
      for (size_t i = 0; i < batch.size() && inserted > 0; ++i) {
        if (!results[i].ok()) continue;
        for (const Discovery& d : effective[i]) {
          if (d.kind == kind_name && d.force == force) {
            results[i]->tasks_queued += inserted;
            inserted = 0;
            break;
          }
        }
      }
    }
    Hook("discovered");

    if (!done.empty()) {
      w.exec_params("DELETE FROM discovery_queue WHERE task_id = ANY($1::bigint[])",
                    PgArray(done));
    }
    for (const auto& [task_id, ready_at] : requeued) {
      w.exec_params(
          "UPDATE discovery_queue SET state = 2, attempts = 0, available_at = $2::timestamptz, "
          "last_modified = $3::timestamptz, locked_until = NULL, lease_token = NULL, "
          "leased_by = NULL, last_error = NULL WHERE task_id = $1",
          task_id, FormatRfc3339(ready_at), now_text);
    }
    Hook("before_commit");
    w.commit();
    return absl::OkStatus();
  });
  if (!s.ok()) {
    for (auto& r : results) {
      if (r.ok()) r = s;
    }
  }
  return results;
}

absl::StatusOr<FailureOutcome> PgQueueStore::Fail(const Failure& f, TimePoint now,
                                                  const RetryPolicy& policy) {
  FailureOutcome outcome;
  bool stale = false;
  absl::Status s = pool_->Run([&](pqxx::connection& conn) -> absl::Status {
    pqxx::work w(conn);
    auto locked = w.exec_params(kLockByToken, f.task_id, f.fencing_token);
    if (locked.empty()) {
      stale = true;
      return absl::OkStatus();
    }
    const std::string kind = locked[0][0].c_str();
    const int64_t entity_id = locked[0][1].as<int64_t>();
    if (f.release) {
      outcome.attempts = locked[0][4].as<int>();
      outcome.retry_at = now + f.retry_after;
      w.exec_params(
          "UPDATE discovery_queue SET state = 2, available_at = $2::timestamptz, "
          "locked_until = NULL, lease_token = NULL, leased_by = NULL WHERE task_id = $1",
          f.task_id, FormatRfc3339(*outcome.retry_at));
      w.commit();
      return absl::OkStatus();
    }
    outcome.attempts = locked[0][4].as<int>() + 1;
    RetryDecision d = policy(outcome.attempts, f);
    outcome.dead = f.permanent || d.dead;
    TaskExtension* ext = FindTaskExtension(kind);
    const ExtensionTask ext_task{f.task_id, kind, entity_id, locked[0][2].as<int>()};
    if (ext != nullptr) ext->OnFailure(w, ext_task, f, now);
    if (outcome.dead) {
      w.exec_params(
          "INSERT INTO dead_tasks (kind, entity_id, attempts, http_status, error, agent_id, "
          "failed_at) VALUES ($1, $2, $3, NULLIF($4, 0), $5, $6, $7::timestamptz) "
          "ON CONFLICT (kind, entity_id) DO UPDATE SET attempts = EXCLUDED.attempts, "
          "http_status = EXCLUDED.http_status, error = EXCLUDED.error, "
          "agent_id = EXCLUDED.agent_id, failed_at = EXCLUDED.failed_at",
          kind, entity_id, outcome.attempts, f.http_status, f.error, f.agent_id,
          FormatRfc3339(now));
      w.exec_params(kDeleteTask, f.task_id);
      if (ext != nullptr) ext->OnDead(w, ext_task, now);
    } else {
      TimePoint retry_at = now + d.delay;
      outcome.retry_at = retry_at;
      w.exec_params(
          "UPDATE discovery_queue SET state = 2, attempts = $2, available_at = $3::timestamptz, "
          "locked_until = NULL, lease_token = NULL, leased_by = NULL, last_error = $4 "
          "WHERE task_id = $1",
          f.task_id, outcome.attempts, FormatRfc3339(retry_at), f.error);
    }
    w.commit();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (stale) return StaleToken(f.task_id, f.fencing_token);
  return outcome;
}

absl::StatusOr<EnqueueOutcome> PgQueueStore::Enqueue(const std::string& kind_name,
                                                     const std::vector<int64_t>& ids, int priority,
                                                     bool count_access, TimePoint now) {
  const TaskKind* kind = FindTaskKind(kind_name);
  if (kind == nullptr) return absl::InvalidArgumentError("unknown kind " + kind_name);
  EnqueueOutcome outcome;
  absl::Status s = pool_->Run([&](pqxx::connection& conn) {
    pqxx::work w(conn);
    const std::string arr = PgArray(ids);
    const bool counting = count_access && !kind->entity_table.empty();
    if (counting) {
      w.exec_params("UPDATE " + kind->entity_table + " SET access_count = access_count + 1 WHERE " +
                        kind->entity_key + " = ANY($1::bigint[])",
                    arr);
    }
    auto res = w.exec_params(InsertTasksSql(*kind, counting), kind_name, arr, priority,
                             FormatRfc3339(now), true, FormatRfc3339(now), counting ? 1 : 0);
    for (const auto& row : res) {
      if (row[0].as<bool>()) {
        ++outcome.enqueued;
      } else {
        ++outcome.already_queued;
      }
    }
    w.commit();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return outcome;
}

absl::StatusOr<std::vector<KindStats>> PgQueueStore::Stats(TimePoint now) {
  std::map<std::string, KindStats> by_kind;
  auto entry = [&](const std::string& kind) -> KindStats& {
    KindStats& k = by_kind[kind];
    k.kind = kind;
    return k;
  };
  absl::Status s = pool_->Run([&](pqxx::connection& conn) {
    pqxx::read_transaction r(conn);
    const std::string ts = FormatRfc3339(now);
    for (const auto& row : r.exec_params(
             "SELECT kind,"
             " count(*) FILTER (WHERE state = 0 OR available_at <= $1::timestamptz),"
             " count(*) FILTER (WHERE state = 1 AND available_at > $1::timestamptz),"
             " count(*) FILTER (WHERE state = 2 AND available_at > $1::timestamptz),"
             " COALESCE(EXTRACT(EPOCH FROM ($1::timestamptz - min(enqueued_at))), 0)::float8"
             " FROM discovery_queue GROUP BY kind",
             ts)) {
      KindStats& k = entry(row[0].c_str());
      k.ready = row[1].as<int64_t>();
      k.leased = row[2].as<int64_t>();
      k.retrying = row[3].as<int64_t>();
      k.oldest_age_seconds = row[4].as<double>();
    }
    for (const auto& row : r.exec_params(
             "SELECT kind, leased_by, count(*) FROM discovery_queue"
             " WHERE state = 1 AND available_at > $1::timestamptz"
             " GROUP BY kind, leased_by ORDER BY kind, leased_by",
             ts)) {
      KindStats& k = entry(row[0].c_str());
      k.agents.emplace_back(row[1].is_null() ? "" : row[1].c_str(), row[2].as<int64_t>());
    }
    for (const auto& row : r.exec("SELECT kind, count(*) FROM dead_tasks GROUP BY kind")) {
      entry(row[0].c_str()).dead = row[1].as<int64_t>();
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  std::vector<KindStats> out;
  for (auto& [_, v] : by_kind) out.push_back(std::move(v));
  return out;
}

absl::StatusOr<std::vector<EntityCountRow>> PgQueueStore::EntityCounts(
    std::optional<TimePoint> since) {
  static const std::vector<std::pair<std::string, std::string>> kTables = {
      {"alliance", "alliance_static"},
      {"corporation", "corporation_static"},
      {"character", "character_static"}};
  std::vector<EntityCountRow> out;
  absl::Status s = pool_->Run([&](pqxx::connection& conn) {
    pqxx::read_transaction r(conn);
    const std::string ts = since ? FormatRfc3339(*since) : std::string();
    for (const auto& [kind, table] : kTables) {
      auto row = r.exec_params1("SELECT count(*), count(*) FILTER (WHERE $1 <> '' AND "
                                "last_modified >= NULLIF($1, '')::timestamptz) FROM " +
                                    table,
                                ts);
      out.push_back({kind, row[0].as<int64_t>(), row[1].as<int64_t>()});
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::Status PgQueueStore::ForEachEntityId(
    const std::string& kind_name, int chunk,
    const std::function<absl::Status(const std::vector<int64_t>&)>& fn) {
  const TaskKind* kind = FindTaskKind(kind_name);
  if (kind == nullptr || kind->entity_table.empty()) {
    return absl::InvalidArgumentError("kind " + kind_name + " has no entity table");
  }
  int64_t after = -1;
  while (true) {
    std::vector<int64_t> ids;
    absl::Status s = pool_->Run([&](pqxx::connection& conn) {
      pqxx::read_transaction r(conn);
      for (const auto& row :
           r.exec_params("SELECT " + kind->entity_key + " FROM " + kind->entity_table + " WHERE " +
                             kind->entity_key + " > $1 ORDER BY 1 LIMIT $2",
                         after, chunk)) {
        ids.push_back(row[0].as<int64_t>());
      }
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    if (ids.empty()) return absl::OkStatus();
    after = ids.back();
    absl::Status fs = fn(ids);
    if (!fs.ok()) return fs;
  }
}

}  // namespace sluice
