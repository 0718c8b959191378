#include "server/workflows/esi/snapshot_job.h"

#include <ctime>

#include "common/time_util.h"
#include "server/workflows/esi/esi_sql.h"

namespace sluice {
std::string UtcDay(TimePoint t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[16];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
  return buf;
}

absl::Status SnapshotJob::Run(JobContext& ctx) {
  if (ctx.cancelled()) return absl::CancelledError("coordinator stopping");
  const TimePoint now = ctx.clock()->Now();
  const std::string day = UtcDay(now);
  const std::string taken_at = FormatRfc3339(now);
  int64_t alliances = 0;
  int64_t corporations = 0;
  absl::Status s = pool_->Run([&](pqxx::connection& conn) {
    pqxx::work w(conn);
    alliances = w.exec_params(esi_sql::kAllianceSnapshot, day, taken_at).affected_rows();
    corporations = w.exec_params(esi_sql::kCorporationSnapshot, day, taken_at).affected_rows();
    w.commit();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  ctx.counters().rows_upserted += alliances + corporations;
  JOB_LOG(INFO, ctx.run_id()) << "snapshot of " << day << ": " << alliances << " alliance(s), "
                              << corporations << " corporation(s)";
  return absl::OkStatus();
}

}  // namespace sluice
