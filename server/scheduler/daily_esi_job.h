// DailyEsiJob ("daily_esi") starts seed 001's daily ESI sequence at
// background priority: it queues the alliance id list, whose completion fans
// out to alliances, their corporations, corporations and characters (and, if
// configured, every known character). The agents do the fetching; this run
// only records how many tasks it queued.
//
// Ownership: borrows the queue. Thread-safety: as TaskQueue (any thread).
#ifndef SLUICE_SERVER_SCHEDULER_DAILY_ESI_JOB_H_
#define SLUICE_SERVER_SCHEDULER_DAILY_ESI_JOB_H_

#include <string>

#include "server/queue/task_queue.h"
#include "server/scheduler/job.h"

namespace sluice {

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

#endif  // SLUICE_SERVER_SCHEDULER_DAILY_ESI_JOB_H_
