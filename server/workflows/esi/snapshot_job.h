// SnapshotJob ("snapshots") takes seed 001's daily snapshots: every alliance
// (name, ticker, executor, faction, corporation and member counts summed from
// its corporations) into alliance_snapshot and every corporation (name,
// ticker, member count, CEO, alliance, tax rate) into corporation_snapshot,
// keyed by the UTC day of the clock.
//
// Idempotent per day: each table is one INSERT ... SELECT ... ON CONFLICT
// (day, id) DO UPDATE, so re-running a day replaces that day's rows with the
// current values and never touches another day. Both tables are written in
// one transaction, so a day's alliance and corporation rows agree.
//
// Ownership: borrows the pool. Thread-safety: Run from one thread at a time
// (the scheduler's guarantee); no mutable state.
#ifndef SLUICE_SERVER_WORKFLOWS_ESI_SNAPSHOT_JOB_H_
#define SLUICE_SERVER_WORKFLOWS_ESI_SNAPSHOT_JOB_H_

#include <string>

#include "server/scheduler/job.h"
#include "server/store/pg_pool.h"

namespace sluice {

class SnapshotJob final : public Job {
 public:
  static constexpr char kName[] = "snapshots";

  explicit SnapshotJob(PgPool* pool) : pool_(pool) {}

  std::string name() const override { return kName; }
  absl::Status Run(JobContext& ctx) override;

 private:
  PgPool* const pool_;
};

// "YYYY-MM-DD" of t in UTC.
std::string UtcDay(TimePoint t);

}  // namespace sluice

#endif  // SLUICE_SERVER_WORKFLOWS_ESI_SNAPSHOT_JOB_H_
