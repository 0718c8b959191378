// PoeTransformJob ("poe_transform") runs the PoE silver/gold transforms until
// they have caught up with the raw tables, as a scheduled job with a run id
// and a job_runs summary (rows_upserted = silver/gold rows written).
//
// Ownership: borrows the transforms. Thread-safety: Run from one thread at a
// time (the scheduler's guarantee).
#ifndef SLUICE_SERVER_WORKFLOWS_ETL_POE_TRANSFORM_JOB_H_
#define SLUICE_SERVER_WORKFLOWS_ETL_POE_TRANSFORM_JOB_H_

#include <string>

#include "server/scheduler/job.h"
#include "server/workflows/etl/poe_transforms.h"

namespace sluice::etl {

class PoeTransformJob final : public Job {
 public:
  static constexpr char kName[] = "poe_transform";

  explicit PoeTransformJob(PoeTransforms* transforms) : transforms_(transforms) {}

  std::string name() const override { return kName; }
  absl::Status Run(JobContext& ctx) override;

 private:
  PoeTransforms* const transforms_;
};

}  // namespace sluice::etl

#endif  // SLUICE_SERVER_WORKFLOWS_ETL_POE_TRANSFORM_JOB_H_
