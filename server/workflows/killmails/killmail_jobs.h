// The killmail workflow's periodic jobs (scheduler/job.h):
//
//   KillmailSyncJob ("killmail_sync", seed 003's background sync): every
//     character with an unexpired token whose killmails were not synced
//     within `stale_after` (or never) is queued as character_killmails at
//     background priority. A manual or user request for the same character
//     keeps its higher priority (the queue only ever raises a priority) and
//     is claimed first.
//   ScanEntitiesJob ("scan_entities", seed 001): one pass over
//     killmail_participants per kind, queueing at background priority the
//     characters, corporations, alliances and ship types (when the
//     universe_type kind is registered) that are not stored, not queued and
//     not dead-lettered.
//
// Ownership: borrow the pool and the queue. Thread-safety: Run from one
// thread at a time (the scheduler's guarantee); no mutable state.
#ifndef SLUICE_SERVER_WORKFLOWS_KILLMAILS_KILLMAIL_JOBS_H_
#define SLUICE_SERVER_WORKFLOWS_KILLMAILS_KILLMAIL_JOBS_H_

#include <string>

#include "server/queue/task_queue.h"
#include "server/scheduler/job.h"
#include "server/store/pg_pool.h"

namespace sluice {

class KillmailSyncJob final : public Job {
 public:
  static constexpr char kName[] = "killmail_sync";

  KillmailSyncJob(PgPool* pool, TaskQueue* queue, Duration stale_after)
      : pool_(pool), queue_(queue), stale_after_(stale_after) {}

  std::string name() const override { return kName; }
  absl::Status Run(JobContext& ctx) override;

 private:
  PgPool* const pool_;
  TaskQueue* const queue_;
  const Duration stale_after_;
};

class ScanEntitiesJob final : public Job {
 public:
  static constexpr char kName[] = "scan_entities";

  ScanEntitiesJob(PgPool* pool, TaskQueue* queue) : pool_(pool), queue_(queue) {}

  std::string name() const override { return kName; }
  absl::Status Run(JobContext& ctx) override;

 private:
  PgPool* const pool_;
  TaskQueue* const queue_;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_WORKFLOWS_KILLMAILS_KILLMAIL_JOBS_H_
