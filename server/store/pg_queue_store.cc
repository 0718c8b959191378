#include "server/store/pg_queue_store.h"

#include <glog/logging.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "common/time_util.h"
#include "server/queue/completion_plan.h"
#include "server/store/prepared.h"
#include "server/store/queue_sql.h"

namespace sluice {
namespace {

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

nlohmann::json CacheRows(const std::vector<CompletionPlan::CacheEntry>& entries) {
  nlohmann::json rows = nlohmann::json::array();
  for (const CompletionPlan::CacheEntry& e : entries) {
    rows.push_back({{"kind", e.kind},
                    {"entity_id", e.entity_id},
                    {"etag", e.etag},
                    {"expires_at", e.expires ? FormatRfc3339(*e.expires) : std::string()},
                    {"discovered",
                     e.discovered ? DiscoveriesToJson(*e.discovered) : nlohmann::json(nullptr)}});
  }
  return rows;
}

TimePoint Micros(const pqxx::field& f) {
  return TimePoint(std::chrono::microseconds(f.as<int64_t>()));
}

// A row as ReadyColumns lists it, from column `at` on; nullopt unless ready.
std::optional<ReadyTask> ReadyRow(const pqxx::row& row, int at) {
  if (row[at + 5].as<int>() != StateValue(TaskState::kReady)) return std::nullopt;
  return ReadyTask{row[at].as<int64_t>(),     row[at + 1].c_str(), row[at + 2].as<int>(),
                   row[at + 3].as<int64_t>(), Micros(row[at + 4]), Micros(row[at + 6])};
}

// A row as QueueColumns lists it; nullopt if it is ready (or due never).
std::optional<DueTask> DueRow(const pqxx::row& row) {
  const int state = row[5].as<int>();
  const int due = queue_sql::kReadyColumnCount;
  if (state == StateValue(TaskState::kReady) || row[due].is_null()) return std::nullopt;
  return DueTask{row[0].as<int64_t>(), row[1].c_str(), static_cast<TaskState>(state),
                 Micros(row[due]), row[due + 1].is_null() ? "" : row[due + 1].c_str()};
}

// For a row InsertTasks just queued waiting for its entity's Expires, the
// due index's entry; nullopt for any other row.
std::optional<DueTask> WaitingForExpires(const pqxx::row& row) {
  if (!row[0].as<bool>() || row[queue_sql::kInsertedDueColumn].is_null()) return std::nullopt;
  if (row[6].as<int>() != StateValue(TaskState::kWaiting)) return std::nullopt;
  return DueTask{row[1].as<int64_t>(), row[2].c_str(), TaskState::kWaiting,
                 Micros(row[queue_sql::kInsertedDueColumn]), ""};
}

}  // namespace

absl::Status PgQueueStore::ReloadReadyIndex() {
  ready_.BeginReload();
  due_.BeginReload();
  std::vector<ReadyTask> loaded;
  std::vector<DueTask> waiting;
  // One cursor: one snapshot, taken after BeginReload (see ReadyIndex).
  absl::Status s = pool_->Run([&](pqxx::connection& conn) {
    loaded.clear();
    waiting.clear();
    pqxx::read_transaction r(conn);
    r.exec("DECLARE queue_rows NO SCROLL CURSOR FOR " + queue_sql::kLoadQueue);
    while (true) {
      auto page = r.exec("FETCH 50000 FROM queue_rows");
      if (page.empty()) break;
      for (const auto& row : page) {
        if (auto t = ReadyRow(row, 0)) {
          loaded.push_back(std::move(*t));
        } else if (auto d = DueRow(row)) {
          waiting.push_back(std::move(*d));
        }
      }
    }
    return absl::OkStatus();
  });
  if (!s.ok()) {
    ready_.AbortReload();
    due_.AbortReload();
    return s;
  }
  ready_.FinishReload(loaded);
  due_.FinishReload(waiting);
  LOG(INFO) << "queue indexes loaded: " << loaded.size() << " ready tasks, " << waiting.size()
            << " leased or waiting";
  return absl::OkStatus();
}

absl::Status PgQueueStore::EnsureReadyIndex() {
  if (ready_loaded_.load(std::memory_order_acquire)) return absl::OkStatus();
  std::lock_guard<std::mutex> lock(reload_mu_);
  if (ready_loaded_.load(std::memory_order_acquire)) return absl::OkStatus();
  absl::Status s = ReloadReadyIndex();
  if (s.ok()) ready_loaded_.store(true, std::memory_order_release);
  return s;
}

void PgQueueStore::ReloadBeforeNextClaim() { ready_loaded_.store(false); }

absl::Status PgQueueStore::CheckReadyIndex() {
  std::lock_guard<std::mutex> lock(reload_mu_);
  if (!ready_loaded_.load()) return absl::OkStatus();  // the next claim loads it
  // Per (kind, state): ready rows in the ready index, the others in the due
  // index, and those running claims hold out of both. The table's counts
  // are read between two readings of these, and each key keeps the larger:
  // a row that left the index while the counts were read (a completion of
  // rows the counts still saw leased, whole batches of them under load) is
  // in the first, one that entered it (a claim's leases, committed before
  // the counts were read and applied after) is in the second.
  const auto index_counts = [this] {
    std::map<std::pair<std::string, int>, int64_t> in_index;
    for (const auto& [kind, n] : ready_.Sizes()) {
      in_index[{kind, StateValue(TaskState::kReady)}] = n;
    }
    for (const auto& [key, n] : due_.Sizes()) in_index[{key.first, StateValue(key.second)}] = n;
    // After the indexes: a row a claim takes meanwhile is counted twice
    // (more held never reloads), not missed.
    for (const auto& [key, n] : claims_in_flight_.Counts()) {
      in_index[{key.first, StateValue(key.second)}] += n;
    }
    return in_index;
  };
  std::map<std::pair<std::string, int>, int64_t> in_index = index_counts();
  std::map<std::pair<std::string, int>, int64_t> in_db;
  absl::Status s = pool_->Run([&](pqxx::connection& conn) {
    in_db.clear();
    pqxx::read_transaction r(conn);
    for (const auto& row : r.exec(queue_sql::kCounts)) {
      const int state = row[1].as<int>();
      if (state == queue_sql::kDeadCountState) continue;
      in_db[{row[0].c_str(), state}] = row[2].as<int64_t>();
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  Hook("index_check_counted");
  for (const auto& [key, n] : index_counts()) in_index[key] = std::max(in_index[key], n);
  std::map<std::pair<std::string, int>, int64_t> missing;
  for (const auto& [key, n] : in_db) {
    auto it = in_index.find(key);
    const int64_t have = it == in_index.end() ? 0 : it->second;
    if (n > have) missing[key] = n - have;
  }
  // Rows in flight (committed, not applied yet) show as missing for a
  // moment; a shortfall seen twice in a row, unchanged, is real.
  const bool reload = !missing.empty() && missing == last_missing_;
  last_missing_ = missing;
  if (!reload) return absl::OkStatus();
  for (const auto& [key, n] : missing) {
    LOG(WARNING) << "the queue's indexes miss " << n << " " << key.first << " tasks in state "
                 << key.second
                 << " (the queue table was written by something other than this "
                    "coordinator): reloading them";
  }
  ++reloads_;
  last_missing_.clear();
  return ReloadReadyIndex();
}

absl::StatusOr<bool> PgQueueStore::AnalyzeIfOutgrown() {
  if (!ready_loaded_.load()) return false;  // not serving claims (yet)
  std::lock_guard<std::mutex> lock(analyze_mu_);
  const auto now = std::chrono::steady_clock::now();
  if (last_analyze_ != std::chrono::steady_clock::time_point() &&
      now - last_analyze_ < kMinAnalyzeInterval) {
    return false;
  }
  int64_t held = 0;
  for (const auto& [kind, n] : ready_.Sizes()) held += n;
  for (const auto& [key, n] : due_.Sizes()) held += n;
  bool outgrown = false;
  absl::Status s = pool_->Run([&](pqxx::connection& conn) {
    pqxx::work w(conn);
    const int64_t believed = w.exec1(queue_sql::kPlannerQueueRows)[0].as<int64_t>();
    outgrown = held > kOutgrownFactor * believed + kOutgrownSlack;
    if (outgrown) {
      LOG(INFO) << "the queue holds " << held << " tasks and its statistics say " << believed
                << ": analyzing it";
      w.exec(queue_sql::kAnalyzeLockTimeout);
      w.exec(queue_sql::kAnalyzeQueue);
    }
    w.commit();
    return absl::OkStatus();
  });
  // A failed attempt (the lock not granted in time) waits its turn too.
  if (outgrown) last_analyze_ = now;
  if (!s.ok()) return s;
  return outgrown;
}

absl::StatusOr<std::vector<std::vector<LeasedTask>>> PgQueueStore::Claim(
    const std::vector<std::string>& kinds, const std::vector<ClaimSlot>& slots, TimePoint now) {
  if (absl::Status s = EnsureReadyIndex(); !s.ok()) return s;
  const bool promote = due_.AnyDue(kinds, now);
  if (!promote && !ready_.Any(kinds)) {
    return std::vector<std::vector<LeasedTask>>(slots.size());  // nothing to lease: no database
  }
  // Counts, for the index check, the rows this claim holds out of both
  // indexes; destroyed after the claim's last index update.
  ClaimsInFlight::Hold held(&claims_in_flight_);
  // Lapsed leases and ended backoffs, out of the due index until the
  // promotion is over (FinishTake).
  std::vector<DueTask> due_rows;
  std::vector<int64_t> due_ids;
  if (promote) {
    due_rows = due_.TakeDue(kinds, now, kMaxPromote);
    for (const DueTask& t : due_rows) {
      due_ids.push_back(t.task_id);
      held.Add(t.kind, t.state, 1);
    }
  }
  std::vector<DueTask> not_promoted;  // as the table has them
  std::vector<std::string> untils, agents;
  for (const ClaimSlot& slot : slots) {
    untils.push_back(FormatRfc3339(slot.lease_until));
    agents.push_back(slot.agent_id);
  }
  std::vector<std::vector<LeasedTask>> out;
  // Taken from the index by an attempt that has not committed: put back if
  // it fails (Run may try again on a fresh connection).
  std::vector<ReadyTask> taken;
  std::map<int64_t, int64_t> run_ref_of;  // leased task id -> its job run (job_runs.ref)
  absl::Status s = pool_->Run([&](pqxx::connection& conn) {
    run_ref_of.clear();
    if (!taken.empty()) ready_.Restore(taken);
    for (const ReadyTask& t : taken) held.Add(t.kind, TaskState::kReady, -1);
    taken.clear();
    out.assign(slots.size(), {});
    not_promoted.clear();
    pqxx::work w(conn);
    if (!synchronous_claims_) w.exec(queue_sql::kClaimCommitsAsynchronously);
    if (!due_ids.empty()) {
      // Lapsed leases and ended backoffs become ready, in this transaction
      // (one commit per claim). They go into the ready index before it
      // commits, so this claim can rank them; should it roll back, the index
      // holds rows that are not ready, which the lease statement leaves out.
      std::set<int64_t> promoted;
      for (const auto& row :
           w.exec_params(queue_sql::kPromoteChosen, FormatRfc3339(now), PgArray(due_ids))) {
        if (auto t = ReadyRow(row, 0)) {
          promoted.insert(t->task_id);
          ready_.Upsert(*t);
        }
      }
      // The rest: held by another transaction, due later than the index
      // said, ready or gone already. What the table says goes back.
      std::vector<int64_t> rest;
      for (int64_t id : due_ids) {
        if (promoted.count(id) == 0) rest.push_back(id);
      }
      if (!rest.empty()) {
        for (const auto& row : w.exec_params(queue_sql::kQueueRows, PgArray(rest))) {
          if (auto t = ReadyRow(row, 0)) {
            ready_.Upsert(*t);
          } else if (auto d = DueRow(row)) {
            not_promoted.push_back(std::move(*d));
          }
        }
      }
    }
    // Rows the index held a moment too long are not leased; the claim takes
    // the next ones, a few times at most.
    for (int round = 0; round < 3; ++round) {
      std::vector<int64_t> ids;
      std::vector<int64_t> slot_of;
      int wanted = 0;
      for (size_t i = 0; i < slots.size(); ++i) {
        wanted += std::max(slots[i].limit - static_cast<int>(out[i].size()), 0);
      }
      if (wanted == 0) break;
      const std::vector<ReadyTask> chosen = ready_.Take(kinds, wanted, now);
      if (chosen.empty()) break;
      // Most urgent first: slot 1 first.
      size_t next = 0;
      for (size_t i = 0; i < slots.size() && next < chosen.size(); ++i) {
        for (int k = static_cast<int>(out[i].size()); k < slots[i].limit && next < chosen.size();
             ++k) {
          ids.push_back(chosen[next++].task_id);
          slot_of.push_back(static_cast<int64_t>(i) + 1);
        }
      }
      taken.insert(taken.end(), chosen.begin(), chosen.end());
      for (const ReadyTask& t : chosen) held.Add(t.kind, TaskState::kReady, 1);
      std::map<int64_t, size_t> rank;
      for (size_t i = 0; i < ids.size(); ++i) rank[ids[i]] = i;
      std::vector<std::pair<size_t, LeasedTask>> leased;
      for (const auto& row : w.exec_params(queue_sql::kLeaseChosen, PgArray(ids),
                                           queue_sql::SlotsByTaskId(ids, slot_of),
                                           PgTextArray(untils), PgTextArray(agents))) {
        LeasedTask t;
        t.task_id = row[1].as<int64_t>();
        t.kind = row[2].c_str();
        t.entity_id = row[3].as<int64_t>();
        t.fencing_token = row[4].as<int64_t>();
        t.locked_until = FromUnixSeconds(row[5].as<double>());
        t.attempts = row[6].as<int>();
        t.priority = row[7].as<int>();
        t.etag = row[8].c_str();
        if (!row[9].is_null()) run_ref_of[t.task_id] = row[9].as<int64_t>();
        leased.emplace_back(rank[t.task_id], std::move(t));
      }
      std::sort(leased.begin(), leased.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      for (auto& [r, t] : leased) out[slot_of[r] - 1].push_back(std::move(t));
      if (leased.size() == ids.size()) break;
    }
    if (!run_ref_of.empty()) {
      std::set<int64_t> refs;
      for (const auto& [task, ref] : run_ref_of) refs.insert(ref);
      const std::map<int64_t, std::string> run_ids = run_ids_.Resolve(w, refs);
      for (auto& leased : out) {
        for (LeasedTask& t : leased) {
          auto ref = run_ref_of.find(t.task_id);
          if (ref == run_ref_of.end()) continue;
          if (auto id = run_ids.find(ref->second); id != run_ids.end()) t.run_id = id->second;
        }
      }
    }
    // Workflow kinds add their context in the claim's transaction: if that
    // fails, the claim rolls back and nothing is leased.
    std::map<TaskExtension*, std::vector<LeasedTask*>> by_extension;
    for (auto& leased : out) {
      for (LeasedTask& t : leased) {
        if (TaskExtension* ext = extensions_->Find(t.kind)) by_extension[ext].push_back(&t);
      }
    }
    for (auto& [ext, tasks] : by_extension) {
      absl::Status filled = ext->FillContext(w, tasks, now);
      if (!filled.ok()) return filled;
    }
    Hook("claim_leased");
    w.commit();
    taken.clear();
    return absl::OkStatus();
  });
  if (!s.ok()) {
    // Nothing was leased: what was taken is ready still. (Were the commit
    // to have landed unseen, a row put back is one the lease statement
    // leaves out.)
    ready_.Restore(taken);
    due_.FinishTake(due_ids, due_rows);
    return s;
  }
  due_.FinishTake(due_ids, not_promoted);
  for (size_t i = 0; i < out.size(); ++i) {
    for (const LeasedTask& t : out[i]) {
      due_.Upsert(
          DueTask{t.task_id, t.kind, TaskState::kLeased, t.locked_until, slots[i].agent_id});
    }
  }
  return out;
}

absl::StatusOr<TimePoint> PgQueueStore::Extend(int64_t task_id, int64_t fencing_token,
                                               TimePoint lease_until) {
  std::optional<DueTask> extended;
  absl::Status s = pool_->Run([&](pqxx::connection& conn) {
    extended.reset();
    pqxx::work w(conn);
    auto res =
        w.exec_params(queue_sql::kExtend, task_id, fencing_token, FormatRfc3339(lease_until));
    if (!res.empty()) {
      extended = DueTask{task_id, res[0][0].c_str(), TaskState::kLeased, lease_until,
                         res[0][1].is_null() ? "" : res[0][1].c_str()};
    }
    w.commit();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (!extended) return StaleToken(task_id, fencing_token);
  due_.Upsert(*extended);
  return lease_until;
}

std::vector<absl::StatusOr<CompletionOutcome>> PgQueueStore::CommitBatch(
    pqxx::work& w, const std::vector<const Completion*>& batch, TimePoint now,
    TimePoint fresh_after, std::vector<ReadyTask>* ready, std::vector<DueTask>* due,
    std::vector<int64_t>* deleted) {
  // Lock every task of the batch that still holds the presented token.
  std::vector<int64_t> ids, tokens, replay;
  for (const Completion* c : batch) {
    ids.push_back(c->task_id);
    tokens.push_back(c->fencing_token);
    // A 304 that carries no discoveries replays the stored ones
    // (CompletionPlan); only those are read from the cache.
    if (c->not_modified && c->discovered.empty()) replay.push_back(c->task_id);
  }
  std::vector<LockedTask> locked;
  for (const auto& row :
       w.exec_params(queue_sql::kLockBatch, PgArray(ids), PgArray(tokens), PgArray(replay))) {
    locked.push_back(LockedTask{row[0].as<int64_t>(), row[1].as<int64_t>(), row[2].c_str(),
                                row[3].as<int64_t>(), row[4].as<int>(), row[5].as<int64_t>(),
                                DiscoveriesFromJson(row[6].c_str()),
                                FromUnixSeconds(row[7].as<double>()), row[8].as<int64_t>()});
  }
  CompletionPlan plan(batch, std::move(locked), *kinds_,
                      [&](const std::string& kind) { return extensions_->Find(kind) != nullptr; });

  // Each kind's extension writes its payloads (in kind order, so batches
  // lock the kinds' tables in the same order).
  std::map<std::string, std::vector<size_t>> by_kind;
  for (const CompletionPlan::Admitted& a : plan.admitted()) {
    if (a.has_extension) by_kind[a.task->kind].push_back(a.index);
  }
  std::map<size_t, const CompletionPlan::Admitted*> admitted_at;
  for (const CompletionPlan::Admitted& a : plan.admitted()) admitted_at[a.index] = &a;
  for (const auto& [kind, indexes] : by_kind) {
    TaskExtension* ext = extensions_->Find(kind);
    std::vector<ExtensionItem> items;
    for (size_t i : indexes) {
      const LockedTask& t = *admitted_at[i]->task;
      items.push_back(ExtensionItem{ExtensionTask{t.task_id, t.kind, t.entity_id, t.priority},
                                    &plan.completion(i)});
    }
    std::vector<absl::StatusOr<PayloadOutcome>> applied = ext->ApplyAll(w, items, now);
    for (size_t j = 0; j < indexes.size(); ++j) {
      plan.SetPayloadOutcome(indexes[j], j < applied.size()
                                             ? std::move(applied[j])
                                             : absl::InternalError("extension gave no result"));
    }
  }
  plan.Finish(now);
  if (plan.empty()) return plan.TakeResults();
  Hook("locked");

  const std::string now_text = FormatRfc3339(now);
  for (const auto& [kind, touched] : plan.not_modified()) {
    w.exec_params(queue_sql::Touch(*kind), PgArray(touched), now_text);
  }
  for (const CompletionPlan::AccessCarry& a : plan.access_carry()) {
    w.exec_params(queue_sql::CarryAccess(*a.kind), a.entity_id, a.accesses);
  }
  if (!plan.cache().empty()) {
    // Prepared (store/prepared.h): its plan is the same at any table size
    // (rows from the parameter, the primary key as arbiter).
    ExecPrepared(w, "queue_upsert_cache_batch", queue_sql::kUpsertCacheBatch,
                 CacheRows(plan.cache()).dump(), now_text);
  }
  Hook("entities");

  const std::string fresh_text = FormatRfc3339(fresh_after);
  for (size_t g = 0; g < plan.discoveries().size(); ++g) {
    const CompletionPlan::DiscoveryGroup& d = plan.discoveries()[g];
    const std::string ids_text = PgArray(d.ids);
    // A forced group skips only what was checked since its list task was
    // queued (DiscoveryGroup::force), and never more than an unforced one.
    const std::string cutoff =
        d.force ? FormatRfc3339(std::max(d.forced_fresh_after, fresh_after)) : fresh_text;
    auto res = w.exec_params(
        queue_sql::InsertTasks(*kinds_->Find(d.kind), queue_sql::OnQueued::kLeave, false), d.kind,
        ids_text, d.priority, now_text, false, cutoff, 0, d.run_ref);
    int queued = static_cast<int>(res.size());
    if (queued > 0) {
      std::vector<int64_t> inserted;
      for (const auto& row : res) inserted.push_back(row[1].as<int64_t>());
      std::set<int64_t> dropped;
      for (const auto& row :
           w.exec_params(queue_sql::kDropRefreshedMeanwhile, PgArray(inserted), cutoff)) {
        dropped.insert(row[0].as<int64_t>());
      }
      queued -= static_cast<int>(dropped.size());
      for (const auto& row : res) {
        if (dropped.count(row[1].as<int64_t>()) != 0) continue;
        if (auto t = ReadyRow(row, 1)) {
          ready->push_back(std::move(*t));
        } else if (auto w = WaitingForExpires(row)) {
          due->push_back(std::move(*w));
        }
      }
    }
    plan.CreditQueued(g, queued);
    for (const auto& row :
         w.exec_params(queue_sql::kRaiseDiscoveredPriority, d.kind, ids_text, d.priority)) {
      if (auto t = ReadyRow(row, 0)) ready->push_back(std::move(*t));
    }
  }
  Hook("discovered");

  if (!plan.done().empty()) w.exec_params(queue_sql::kDeleteTasks, PgArray(plan.done()));
  deleted->insert(deleted->end(), plan.done().begin(), plan.done().end());
  for (const CompletionPlan::Requeue& r : plan.requeued()) {
    w.exec_params(queue_sql::kRequeue, r.task_id, FormatRfc3339(r.ready_at), now_text);
    due->push_back(DueTask{r.task_id, r.kind, TaskState::kWaiting, r.ready_at, ""});
  }
  // The coordinator's lines about these tasks name their runs.
  std::set<int64_t> refs;
  for (const CompletionPlan::Admitted& a : plan.admitted()) refs.insert(a.task->run_ref);
  const std::map<int64_t, std::string> run_ids = run_ids_.Resolve(w, refs);
  Hook("before_commit");
  w.commit();
  std::vector<absl::StatusOr<CompletionOutcome>> results = plan.TakeResults();
  for (const CompletionPlan::Admitted& a : plan.admitted()) {
    auto id = run_ids.find(a.task->run_ref);
    if (id != run_ids.end() && results[a.index].ok()) results[a.index]->run_id = id->second;
  }
  return results;
}

std::vector<absl::StatusOr<CompletionOutcome>> PgQueueStore::CompleteBatch(
    const std::vector<const Completion*>& batch, TimePoint now, TimePoint fresh_after) {
  std::vector<absl::StatusOr<CompletionOutcome>> results;
  std::vector<ReadyTask> ready;  // discovered tasks, for the ready index
  std::vector<DueTask> due;      // requeued or queued waiting, for the due index
  std::vector<int64_t> deleted;  // done
  absl::Status s = pool_->Run([&](pqxx::connection& conn) -> absl::Status {
    results.clear();  // Run may try again on a fresh connection
    ready.clear();
    due.clear();
    deleted.clear();
    pqxx::work w(conn);
    results = CommitBatch(w, batch, now, fresh_after, &ready, &due, &deleted);
    return absl::OkStatus();
  });
  if (s.ok()) {
    for (int64_t id : deleted) due_.Remove(id);
    for (const ReadyTask& t : ready) ready_.Upsert(t);
    for (const DueTask& t : due) due_.Upsert(t);
  }
  if (!s.ok()) {
    // The transaction failed: nothing was written. Completions refused
    // before it (a stale token) keep their own answer.
    if (results.size() != batch.size()) results.assign(batch.size(), s);
    for (auto& r : results) {
      if (r.ok()) r = s;
    }
  }
  return results;
}

absl::StatusOr<FailureOutcome> PgQueueStore::Fail(const Failure& f, TimePoint now,
                                                  const RetryDecider& decide) {
  FailureOutcome outcome;
  bool stale = false;
  std::string failed_kind;
  absl::Status s = pool_->Run([&](pqxx::connection& conn) -> absl::Status {
    outcome = FailureOutcome{};
    stale = false;
    pqxx::work w(conn);
    auto locked = w.exec_params(queue_sql::kLockByToken, f.task_id, f.fencing_token);
    if (locked.empty()) {
      stale = true;
      return absl::OkStatus();
    }
    const std::string kind = locked[0][0].c_str();
    failed_kind = kind;
    const int64_t entity_id = locked[0][1].as<int64_t>();
    if (const int64_t ref = locked[0][5].as<int64_t>(); ref != 0) {
      auto ids = run_ids_.Resolve(w, {ref});
      if (!ids.empty()) outcome.run_id = ids.begin()->second;
    }
    if (f.release) {
      outcome.attempts = locked[0][4].as<int>();
      outcome.retry_at = now + f.retry_after;
      w.exec_params(queue_sql::kRelease, f.task_id, FormatRfc3339(*outcome.retry_at));
      w.commit();
      return absl::OkStatus();
    }
    outcome.attempts = locked[0][4].as<int>() + 1;
    const RetryDecision d = decide(outcome.attempts, f);
    outcome.dead = d.dead;
    TaskExtension* ext = extensions_->Find(kind);
    const ExtensionTask ext_task{f.task_id, kind, entity_id, locked[0][2].as<int>()};
    if (ext != nullptr) ext->OnFailure(w, ext_task, f, now);
    if (outcome.dead) {
      w.exec_params(queue_sql::kDeadLetter, kind, entity_id, outcome.attempts, f.http_status,
                    f.error, f.agent_id, FormatRfc3339(now));
      w.exec_params(queue_sql::kDeleteTask, f.task_id);
      if (ext != nullptr) ext->OnDead(w, ext_task, f, now);
    } else {
      outcome.retry_at = now + d.delay;
      w.exec_params(queue_sql::kRetryLater, f.task_id, outcome.attempts,
                    FormatRfc3339(*outcome.retry_at), f.error);
    }
    w.commit();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (stale) return StaleToken(f.task_id, f.fencing_token);
  if (outcome.retry_at) {
    due_.Upsert(DueTask{f.task_id, failed_kind, TaskState::kWaiting, *outcome.retry_at, ""});
  } else {
    due_.Remove(f.task_id);  // dead-lettered
  }
  return outcome;
}

absl::StatusOr<std::vector<std::pair<int64_t, int64_t>>> PgQueueStore::LeasesHeldBy(
    const std::string& agent_id) {
  if (absl::Status s = EnsureReadyIndex(); !s.ok()) return s;
  std::vector<std::pair<int64_t, int64_t>> out;
  const std::vector<int64_t> held = due_.LeasedBy(agent_id);
  if (held.empty()) return out;
  absl::Status s = pool_->Run([&](pqxx::connection& conn) {
    out.clear();
    pqxx::read_transaction r(conn);
    for (const auto& row : r.exec_params(queue_sql::kLeasesHeldBy, agent_id, PgArray(held))) {
      out.emplace_back(row[0].as<int64_t>(), row[1].as<int64_t>());
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<EnqueueOutcome> PgQueueStore::Enqueue(const std::string& kind_name,
                                                     const std::vector<int64_t>& ids, int priority,
                                                     bool count_access, TimePoint now,
                                                     const std::string& run_id) {
  const TaskKind* kind = kinds_->Find(kind_name);
  if (kind == nullptr) return absl::InvalidArgumentError("unknown kind " + kind_name);
  EnqueueOutcome outcome;
  std::vector<ReadyTask> ready;  // for the ready index, once committed
  std::vector<DueTask> due;      // rows queued waiting for their Expires
  // A user's request for an entity whose stored Expires is still ahead is
  // answered from the database (its access counted all the same); anything
  // else waits for the Expires (queue_sql::WhenFresh).
  const queue_sql::WhenFresh when_fresh = count_access ? queue_sql::WhenFresh::kAnswerFromDatabase
                                                       : queue_sql::WhenFresh::kWaitForExpires;
  const int distinct = static_cast<int>(std::set<int64_t>(ids.begin(), ids.end()).size());
  absl::Status s = pool_->Run([&](pqxx::connection& conn) {
    outcome = EnqueueOutcome{};
    pqxx::work w(conn);
    int64_t run_ref = 0;
    if (!run_id.empty()) {
      auto ref = w.exec_params(queue_sql::kRunRef, run_id);
      if (ref.empty()) {
        return absl::FailedPreconditionError("job run " + run_id +
                                             " is not recorded (job_runs): its tasks could not "
                                             "refer to it");
      }
      run_ref = ref[0][0].as<int64_t>();
    }
    const std::string arr = PgArray(ids);
    const bool counting = count_access && !kind->entity_table.empty();
    if (counting) w.exec_params(queue_sql::CountAccess(*kind), arr);
    const std::string ts = FormatRfc3339(now);
    auto res = w.exec_params(
        queue_sql::InsertTasks(*kind, queue_sql::OnQueued::kRaisePriority, counting, when_fresh),
        kind_name, arr, priority, ts, true, ts, counting ? 1 : 0, run_ref);
    ready.clear();
    due.clear();
    for (const auto& row : res) {
      if (row[0].as<bool>()) {
        ++outcome.enqueued;
      } else {
        ++outcome.already_queued;
      }
      if (auto t = ReadyRow(row, 1)) {
        ready.push_back(std::move(*t));
      } else if (auto waiting = WaitingForExpires(row)) {
        ++outcome.waiting_for_expires;
        due.push_back(std::move(*waiting));
      }
    }
    // An enqueue is forced, so only the freshness rule leaves ids out.
    outcome.answered_from_database = distinct - static_cast<int>(res.size());
    w.commit();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  for (const ReadyTask& t : ready) ready_.Upsert(t);
  for (const DueTask& t : due) due_.Upsert(t);
  return outcome;
}

absl::StatusOr<std::vector<KindStats>> PgQueueStore::Stats(TimePoint now) {
  if (absl::Status s = EnsureReadyIndex(); !s.ok()) return s;
  std::map<std::string, KindStats> by_kind;
  auto entry = [&](const std::string& kind) -> KindStats& {
    KindStats& k = by_kind[kind];
    k.kind = kind;
    return k;
  };
  absl::Status s = pool_->Run([&](pqxx::connection& conn) {
    by_kind.clear();
    pqxx::read_transaction r(conn);
    const std::string ts = FormatRfc3339(now);
    for (const auto& row : r.exec(queue_sql::kCounts)) {
      const int64_t n = row[2].as<int64_t>();
      if (n == 0) continue;  // a kind whose tasks are all gone
      KindStats& k = entry(row[0].c_str());
      switch (row[1].as<int>()) {
        case static_cast<int>(TaskState::kReady):
          k.ready += n;
          break;
        case static_cast<int>(TaskState::kLeased):
          k.leased += n;
          break;
        case static_cast<int>(TaskState::kWaiting):
          k.retrying += n;
          break;
        case queue_sql::kDeadCountState:
          k.dead += n;
          break;
        default:
          break;
      }
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  // Leases and backoffs that have run out but are not promoted yet (the next
  // claim makes them ready) count as ready; ages and agents from memory
  // (the indexes on the row's state are gone: 0020_hot_leases.sql).
  for (const auto& [key, n] : due_.DueCounts(now)) {
    KindStats& k = entry(key.first);
    k.ready += n;
    (key.second == TaskState::kLeased ? k.leased : k.retrying) -= n;
  }
  for (auto& [kind, k] : by_kind) {
    if (k.ready <= 0) continue;
    if (auto oldest = ready_.OldestEnqueued(kind)) {
      k.oldest_age_seconds = std::max(0.0, std::chrono::duration<double>(now - *oldest).count());
    }
  }
  for (const auto& [key, n] : due_.LeasesByAgent(now)) {
    entry(key.first).agents.emplace_back(key.second, n);
  }
  std::vector<KindStats> out;
  for (auto& [_, v] : by_kind) out.push_back(std::move(v));
  return out;
}

absl::Status PgQueueStore::FoldCounts() {
  return pool_->Run([](pqxx::connection& conn) {
    pqxx::work w(conn);
    w.exec(queue_sql::kFoldCounts);
    w.commit();
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<EntityCountRow>> PgQueueStore::EntityCounts(
    std::optional<TimePoint> since) {
  std::vector<EntityCountRow> out;
  absl::Status s = pool_->Run([&](pqxx::connection& conn) {
    out.clear();
    pqxx::read_transaction r(conn);
    const std::string ts = since ? FormatRfc3339(*since) : std::string();
    for (const TaskKind& kind : kinds_->All()) {
      if (!kind.listed || kind.entity_table.empty()) continue;
      auto row = r.exec_params1(queue_sql::CountEntities(kind), ts);
      out.push_back({kind.name, row[0].as<int64_t>(), row[1].as<int64_t>()});
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::Status PgQueueStore::ForEachEntityId(
    const std::string& kind_name, int chunk,
    const std::function<absl::Status(const std::vector<int64_t>&)>& fn) {
  const TaskKind* kind = kinds_->Find(kind_name);
  if (kind == nullptr || kind->entity_table.empty()) {
    return absl::InvalidArgumentError("kind " + kind_name + " has no entity table");
  }
  int64_t after = -1;
  while (true) {
    std::vector<int64_t> ids;
    absl::Status s = pool_->Run([&](pqxx::connection& conn) {
      ids.clear();
      pqxx::read_transaction r(conn);
      for (const auto& row : r.exec_params(queue_sql::EntityIdsAfter(*kind), after, chunk)) {
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

absl::StatusOr<std::vector<int64_t>> PgQueueStore::Unqueued(const std::string& kind,
                                                            const std::vector<int64_t>& ids) {
  std::vector<int64_t> out;
  absl::Status s = pool_->Run([&](pqxx::connection& conn) {
    out.clear();
    pqxx::read_transaction r(conn);
    for (const auto& row : r.exec_params(queue_sql::kUnqueued, kind, PgArray(ids))) {
      out.push_back(row[0].as<int64_t>());
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<int64_t> PgQueueStore::CountFirstAttempts(const std::string& kind,
                                                         const std::vector<int64_t>& ids) {
  int64_t n = 0;
  absl::Status s = pool_->Run([&](pqxx::connection& conn) {
    pqxx::read_transaction r(conn);
    n = r.exec_params1(queue_sql::kCountFirstAttempts, kind, PgArray(ids))[0].as<int64_t>();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return n;
}

}  // namespace sluice
