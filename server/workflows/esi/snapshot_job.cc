#include "server/workflows/esi/snapshot_job.h"

#include <ctime>

#include "common/time_util.h"

namespace sluice {
namespace {

// corporation_count / member_count come from the corporations that name the
// alliance today, which is what seed 001's alliance snapshot tracks.
constexpr char kAllianceSnapshotSql[] = R"sql(
INSERT INTO alliance_snapshot (day, alliance_id, name, ticker, executor_corporation_id,
                               faction_id, corporation_count, member_count, taken_at)
SELECT $1::date, s.alliance_id, s.name, s.ticker, e.executor_corporation_id, e.faction_id,
       coalesce(c.corporations, 0), coalesce(c.members, 0), $2::timestamptz
FROM alliance_static s
LEFT JOIN alliance_ephemeral e USING (alliance_id)
LEFT JOIN (SELECT alliance_id, count(*) AS corporations,
                  coalesce(sum(member_count), 0) AS members
           FROM corporation_ephemeral
           WHERE alliance_id IS NOT NULL
           GROUP BY alliance_id) c USING (alliance_id)
ON CONFLICT (day, alliance_id) DO UPDATE SET
  name = EXCLUDED.name, ticker = EXCLUDED.ticker,
  executor_corporation_id = EXCLUDED.executor_corporation_id, faction_id = EXCLUDED.faction_id,
  corporation_count = EXCLUDED.corporation_count, member_count = EXCLUDED.member_count,
  taken_at = EXCLUDED.taken_at
)sql";

constexpr char kCorporationSnapshotSql[] = R"sql(
INSERT INTO corporation_snapshot (day, corporation_id, name, ticker, member_count, ceo_id,
                                  alliance_id, tax_rate, taken_at)
SELECT $1::date, s.corporation_id, s.name, s.ticker, e.member_count, e.ceo_id, e.alliance_id,
       e.tax_rate, $2::timestamptz
FROM corporation_static s
LEFT JOIN corporation_ephemeral e USING (corporation_id)
ON CONFLICT (day, corporation_id) DO UPDATE SET
  name = EXCLUDED.name, ticker = EXCLUDED.ticker, member_count = EXCLUDED.member_count,
  ceo_id = EXCLUDED.ceo_id, alliance_id = EXCLUDED.alliance_id, tax_rate = EXCLUDED.tax_rate,
  taken_at = EXCLUDED.taken_at
)sql";

}  // namespace

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
    alliances = w.exec_params(kAllianceSnapshotSql, day, taken_at).affected_rows();
    corporations = w.exec_params(kCorporationSnapshotSql, day, taken_at).affected_rows();
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
