#include "server/workflows/killmails/killmail_jobs.h"

#include <algorithm>
#include <vector>

#include "common/time_util.h"
#include "server/workflows/killmails/killmail_kinds.h"
#include "server/workflows/killmails/killmail_sql.h"

namespace sluice {
namespace {

// Ids per Enqueue call (the queue takes at most 100,000 per request).
constexpr size_t kEnqueueChunk = 10000;

// Queues ids at background priority in chunks; adds what was newly queued to
// *queued. Stops early if the coordinator is stopping.
absl::Status EnqueueBackground(TaskQueue* queue, JobContext& ctx, const std::string& kind,
                               const std::vector<int64_t>& ids, int64_t* queued, int64_t* already) {
  for (size_t i = 0; i < ids.size(); i += kEnqueueChunk) {
    if (ctx.cancelled()) return absl::CancelledError("coordinator stopping");
    std::vector<int64_t> chunk(ids.begin() + i,
                               ids.begin() + std::min(ids.size(), i + kEnqueueChunk));
    auto out = queue->Enqueue(kind, chunk, Priority::kBackground, ctx.run_id());
    if (!out.ok()) return out.status();
    *queued += out->enqueued;
    *already += out->already_queued;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status KillmailSyncJob::Run(JobContext& ctx) {
  if (ctx.cancelled()) return absl::CancelledError("coordinator stopping");
  const TimePoint now = ctx.clock()->Now();
  std::vector<int64_t> ids;
  int64_t never = 0;
  int64_t expired = 0;
  absl::Status s = pool_->Run([&](pqxx::connection& conn) {
    ids.clear();
    pqxx::read_transaction r(conn);
    for (const auto& row : r.exec_params(killmail_sql::kDueForSync, FormatRfc3339(now),
                                         FormatRfc3339(now - stale_after_))) {
      ids.push_back(row[0].as<int64_t>());
      if (row[1].as<bool>()) ++never;
    }
    expired =
        r.exec_params1(killmail_sql::kCountExpiredTokens, FormatRfc3339(now))[0].as<int64_t>();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  int64_t queued = 0, already = 0;
  s = EnqueueBackground(queue_, ctx, kCharacterKillmailsKind, ids, &queued, &already);
  ctx.counters().tasks_queued += queued;
  if (!s.ok()) return s;
  JOB_LOG(INFO, ctx.run_id()) << ids.size() << " character(s) due for killmail sync (" << never
                              << " never synced): " << queued << " queued, " << already
                              << " already queued; " << expired
                              << " character(s) skipped with an expired token";
  return absl::OkStatus();
}

absl::Status ScanEntitiesJob::Run(JobContext& ctx) {
  struct Target {
    const char* kind;
    const char* column;
  };
  static const Target kTargets[] = {{"character", "character_id"},
                                    {"corporation", "corporation_id"},
                                    {"alliance", "alliance_id"},
                                    {kUniverseTypeKind, "ship_type_id"}};
  for (const Target& t : kTargets) {
    if (ctx.cancelled()) return absl::CancelledError("coordinator stopping");
    const TaskKind* kind = queue_->kinds().Find(t.kind);
    if (kind == nullptr || kind->entity_table.empty()) {
      JOB_LOG(INFO, ctx.run_id()) << "kind " << t.kind << " is not registered; not scanned";
      continue;
    }
    std::vector<int64_t> missing;
    absl::Status s = pool_->Run([&](pqxx::connection& conn) {
      missing.clear();
      pqxx::read_transaction r(conn);
      for (const auto& row : r.exec(killmail_sql::ParticipantsMissing(t.column, *kind))) {
        missing.push_back(row[0].as<int64_t>());
      }
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    // Not stored, and neither queued nor dead-lettered: the queue knows.
    auto unqueued = queue_->Unqueued(t.kind, missing);
    if (!unqueued.ok()) return unqueued.status();
    const std::vector<int64_t>& ids = *unqueued;
    int64_t queued = 0, already = 0;
    s = EnqueueBackground(queue_, ctx, t.kind, ids, &queued, &already);
    ctx.counters().tasks_queued += queued;
    if (!s.ok()) return s;
    JOB_LOG(INFO, ctx.run_id()) << t.kind << ": " << ids.size()
                                << " missing id(s) named by killmails, " << queued << " queued";
  }
  return absl::OkStatus();
}

}  // namespace sluice
