// Seed 001's daily ESI sequence: the alliance id list is queued, and its
// completion fans out to alliances, their corporations, corporations and
// characters (and, when asked, every known character is queued too). The
// agents do the fetching.
//
// DailyEsiJob ("daily_esi") starts it at background priority and records how
// many tasks it queued; AdminService.StartDaily (sluicectl daily) starts it
// at the caller's priority.
//
// Ownership: borrows the queue. Thread-safety: as TaskQueue (any thread).
#ifndef SLUICE_SERVER_WORKFLOWS_ESI_DAILY_ESI_JOB_H_
#define SLUICE_SERVER_WORKFLOWS_ESI_DAILY_ESI_JOB_H_

#include <string>

#include "server/queue/task_queue.h"
#include "server/scheduler/job.h"

namespace sluice {

// Queues the sequence's first tasks under `run_id` (a recorded job run:
// they and every task they discover carry it to the agents). Returns the
// tasks queued.
absl::StatusOr<int> StartDailySequence(TaskQueue* queue, bool include_characters,
                                       Priority priority, const std::string& run_id);

class DailyEsiJob final : public Job {
 public:
  static constexpr char kName[] = "daily_esi";

  DailyEsiJob(TaskQueue* queue, bool include_characters)
      : queue_(queue), include_characters_(include_characters) {}

  std::string name() const override { return kName; }
  absl::Status Run(JobContext& ctx) override;

 private:
  TaskQueue* const queue_;
  const bool include_characters_;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_WORKFLOWS_ESI_DAILY_ESI_JOB_H_
