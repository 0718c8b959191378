#include "server/workflows/contracts/contract_aggregation_job.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/time_util.h"
#include "server/workflows/contracts/contract_sql.h"
#include "server/workflows/contracts/contract_store.h"

namespace sluice {

absl::StatusOr<std::vector<int64_t>> ContractAggregationJob::StaleTypes(TimePoint now) {
  std::vector<int64_t> ids;
  absl::Status s = pool_->Run([&](pqxx::connection& conn) {
    pqxx::nontransaction nt(conn);
    auto rows =
        nt.exec_params(contract_sql::kStaleTypes, FormatRfc3339(now - options_.type_max_age),
                       options_.type_refresh_batch);
    for (const auto& row : rows) ids.push_back(row[0].as<int64_t>());
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return ids;
}

absl::Status ContractAggregationJob::OpenRegionRows(const std::string& run_id, TimePoint now) {
  return pool_->Run([&](pqxx::connection& conn) {
    pqxx::work w(conn);
    w.exec_params(contract_sql::kAbandonOpenRuns, PgArray(options_.regions), FormatRfc3339(now));
    w.exec_params(contract_sql::kOpenRuns, run_id, PgArray(options_.regions), FormatRfc3339(now));
    w.commit();
    return absl::OkStatus();
  });
}

absl::StatusOr<int64_t> ContractAggregationJob::Pending(const std::vector<int64_t>& refresh) {
  // First attempts still to come for the run's work: the regions' listings,
  // the item lists of their contracts, and the types those contracts (or the
  // refresh batch) wait for. A task that failed once is retrying on its own
  // schedule and no longer holds the run.
  //
  // Stage by stage, each stage's ids read only once the stage before is
  // done: a completion commits its rows and the next stage's tasks together,
  // so a snapshot taken after it sees both. (Reading the contracts before
  // counting the regions let a region that committed in between end the run
  // before its item lists were fetched.)
  const std::string regions = PgArray(options_.regions);
  // `base` plus the ids `sql` lists for the run's regions now.
  auto ids_of = [&](const char* sql,
                    const std::vector<int64_t>& base) -> absl::StatusOr<std::vector<int64_t>> {
    std::vector<int64_t> ids;
    absl::Status s = pool_->Run([&](pqxx::connection& conn) {
      ids = base;  // Run may call again on a fresh connection
      pqxx::read_transaction r(conn);
      for (const auto& row : r.exec_params(sql, regions)) ids.push_back(row[0].as<int64_t>());
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return ids;
  };
  auto n = queue_->CountFirstAttempts(contracts::kRegionKind, options_.regions);
  if (!n.ok() || *n > 0) return n;
  auto listed = ids_of(contract_sql::kRegionContracts, {});
  if (!listed.ok()) return listed.status();
  n = queue_->CountFirstAttempts(contracts::kItemsKind, *listed);
  if (!n.ok() || *n > 0) return n;
  auto types = ids_of(contract_sql::kAwaitedTypes, refresh);
  if (!types.ok()) return types.status();
  return queue_->CountFirstAttempts(contracts::kTypeKind, *types);
}

absl::Status ContractAggregationJob::Finish(JobContext& ctx, const std::vector<int64_t>& refresh,
                                            TimePoint started) {
  JobCounters& n = ctx.counters();
  std::vector<std::string> unfinished;
  int64_t pages = 0, unchanged = 0, upserted = 0, dropped = 0, skipped = 0, item_calls = 0;
  int64_t item_rows = 0, types_ok = 0, types_failed = 0, unclassified = 0;
  absl::Status s = pool_->Run([&](pqxx::connection& conn) {
    pqxx::work w(conn);
    unclassified = store_.ClassifyWaiting(w, options_.regions, ctx.clock()->Now());
    auto rows =
        w.exec_params(contract_sql::kCloseRuns, ctx.run_id(), FormatRfc3339(ctx.clock()->Now()));
    auto types =
        w.exec_params(contract_sql::kTypeRefreshOutcome, PgArray(refresh), FormatRfc3339(started));
    w.commit();
    for (const auto& row : rows) {
      if (!row[1].as<bool>()) {
        unfinished.push_back(absl::StrCat(
            row[0].as<int64_t>(),
            row[12].size() ? absl::StrCat(" (", row[12].c_str(), ")") : std::string()));
      }
      pages += row[2].as<int64_t>();
      unchanged += row[3].as<int64_t>();
      upserted += row[4].as<int64_t>();
      dropped += row[5].as<int64_t>();
      skipped += row[6].as<int64_t>();
      n.tasks_queued += row[7].as<int64_t>();
      item_calls += row[8].as<int64_t>();
      n.cache_hits += row[3].as<int64_t>() + row[9].as<int64_t>();
      n.cache_misses +=
          row[2].as<int64_t>() - row[3].as<int64_t>() + row[8].as<int64_t>() - row[9].as<int64_t>();
      item_rows += row[10].as<int64_t>();
      n.errors += row[6].as<int64_t>() + row[11].as<int64_t>();
    }
    types_ok = types[0][0].as<int64_t>();
    types_failed = types[0][1].as<int64_t>();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  n.upstream_calls += pages + item_calls + types_ok + types_failed;
  n.rows_upserted += upserted + item_rows + types_ok;
  n.errors += types_failed + static_cast<int64_t>(unfinished.size());
  JOB_LOG(INFO, ctx.run_id()) << "contract aggregation: " << options_.regions.size()
                              << " region(s), " << pages << " page(s) (" << unchanged
                              << " unchanged), " << upserted << " contract(s) upserted, " << dropped
                              << " dropped, " << skipped << " skipped, " << item_calls
                              << " item list(s) fetched (" << item_rows << " item(s)), " << types_ok
                              << " type(s) refreshed, " << types_failed
                              << " type refresh(es) failed, " << unclassified
                              << " contract(s) waiting for types, " << n.errors << " error(s)";
  if (!unfinished.empty()) {
    JOB_LOG(WARNING, ctx.run_id())
        << "region(s) not completed in this run: " << absl::StrJoin(unfinished, ", ");
  }
  return absl::OkStatus();
}

absl::Status ContractAggregationJob::Run(JobContext& ctx) {
  const std::string& run_id = ctx.run_id();
  auto critical = [&](const absl::Status& s, const char* step) {
    // UNAVAILABLE: PostgreSQL is unreachable; nothing more can be recorded.
    JOB_LOG(ERROR, run_id) << "CRITICAL: contract aggregation aborted while " << step << ": " << s;
    return s;
  };
  if (options_.regions.empty()) {
    JOB_LOG(WARNING, run_id) << "no regions configured (--contract_regions); nothing to do";
    return absl::OkStatus();
  }
  const TimePoint started = ctx.clock()->Now();
  const auto deadline = std::chrono::steady_clock::now() + options_.run_timeout;
  JOB_LOG(INFO, run_id) << "contract aggregation starting for region(s) "
                        << absl::StrJoin(options_.regions, ",");

  absl::StatusOr<std::vector<int64_t>> refresh = StaleTypes(started);
  if (!refresh.ok()) return critical(refresh.status(), "selecting stale types");
  if (!refresh->empty()) {
    auto q = queue_->Enqueue(contracts::kTypeKind, *refresh, Priority::kBackground, run_id);
    if (!q.ok()) return critical(q.status(), "queueing the type refresh");
    ctx.counters().tasks_queued += q->enqueued;
    JOB_LOG(INFO, run_id)
        << "refreshing " << refresh->size() << " type(s) older than "
        << std::chrono::duration_cast<std::chrono::hours>(options_.type_max_age).count() / 24
        << " days: " << absl::StrJoin(*refresh, ",");
  }
  if (absl::Status s = OpenRegionRows(run_id, started); !s.ok()) {
    return critical(s, "opening the region rows");
  }
  auto q = queue_->Enqueue(contracts::kRegionKind, options_.regions, Priority::kBackground, run_id);
  if (!q.ok()) return critical(q.status(), "queueing the regions");
  ctx.counters().tasks_queued += q->enqueued;

  absl::Status outcome;
  while (true) {
    absl::StatusOr<int64_t> pending = Pending(*refresh);
    if (!pending.ok()) return critical(pending.status(), "waiting for the regions");
    if (*pending == 0) break;
    if (ctx.cancelled()) {
      outcome =
          absl::CancelledError("coordinator stopping; the queued tasks go on without the run");
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      outcome = absl::DeadlineExceededError(
          absl::StrCat(*pending,
                       " task(s) still waiting after --contract_run_timeout_s; they go on "
                       "without the run"));
      break;
    }
    std::this_thread::sleep_for(options_.poll_interval);
  }
  if (absl::Status s = Finish(ctx, *refresh, started); !s.ok()) {
    return critical(s, "recording the run");
  }
  return outcome;
}

}  // namespace sluice
