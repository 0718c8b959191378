#include "server/workflows/etl/poe_transform_job.h"

namespace sluice::etl {

absl::Status PoeTransformJob::Run(JobContext& ctx) {
  int64_t batches = 0, raw = 0;
  // A pass of a bounded number of batches at a time, so cancellation is
  // seen between passes as well as between batches.
  while (true) {
    if (ctx.cancelled()) return absl::CancelledError("coordinator stopping");
    auto pass = transforms_->RunPass(100);
    if (!pass.ok()) {
      JOB_LOG(WARNING, ctx.run_id())
          << "transform failed after " << batches << " batch(es): " << pass.status();
      return pass.status();
    }
    batches += pass->batches;
    raw += pass->raw_rows;
    ctx.counters().rows_upserted += pass->rows_written;
    if (pass->caught_up) break;
  }
  JOB_LOG(INFO, ctx.run_id()) << "poe transforms caught up: " << raw << " raw row(s) in " << batches
                              << " batch(es), " << ctx.counters().rows_upserted
                              << " silver/gold row(s) written";
  return absl::OkStatus();
}

}  // namespace sluice::etl
