#include "server/scheduler/daily_esi_job.h"

namespace sluice {

absl::Status DailyEsiJob::Run(JobContext& ctx) {
  if (ctx.cancelled()) return absl::CancelledError("coordinator stopping");
  // Background priority: users' and operators' requests (sluicectl enqueue,
  // manual priority) go first.
  auto queued = queue_->StartDaily(include_characters_, v1::PRIORITY_CLASS_BACKGROUND);
  if (!queued.ok()) return queued.status();
  ctx.counters().tasks_queued += *queued;
  JOB_LOG(INFO, ctx.run_id()) << "daily ESI sequence started: " << *queued << " task(s) queued"
                              << (include_characters_ ? " (with every known character)" : "");
  return absl::OkStatus();
}

}  // namespace sluice
