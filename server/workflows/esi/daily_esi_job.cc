#include "server/workflows/esi/daily_esi_job.h"

#include "server/workflows/esi/esi_kinds.h"

namespace sluice {

absl::StatusOr<int> StartDailySequence(TaskQueue* queue, bool include_characters,
                                       Priority priority, const std::string& run_id) {
  auto first = queue->Enqueue(esi::kAllianceIdsKind, {0}, priority, run_id);
  if (!first.ok()) return first.status();
  int queued = first->enqueued;
  if (include_characters) {
    auto characters = queue->EnqueueAllKnown(esi::kCharacterKind, priority, run_id);
    if (!characters.ok()) return characters.status();
    queued += characters->enqueued;
  }
  return queued;
}

absl::Status DailyEsiJob::Run(JobContext& ctx) {
  if (ctx.cancelled()) return absl::CancelledError("coordinator stopping");
  // Background priority: users' and operators' requests (sluicectl enqueue,
  // manual priority) go first.
  auto queued = StartDailySequence(queue_, include_characters_, Priority::kBackground, ctx.run_id());
  if (!queued.ok()) return queued.status();
  ctx.counters().tasks_queued += *queued;
  JOB_LOG(INFO, ctx.run_id()) << "daily ESI sequence started: " << *queued << " task(s) queued"
                              << (include_characters_ ? " (with every known character)" : "");
  return absl::OkStatus();
}

}  // namespace sluice
