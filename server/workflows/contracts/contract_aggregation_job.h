// ContractAggregationJob ("contract_aggregation", seed 004): one run
//   1. queues a refresh of up to `type_refresh_batch` cached types whose
//      last_refreshed_at is older than `type_max_age` (universe_type,
//      background, forced);
//   2. opens a contract_region_runs row per configured region and queues one
//      contracts_region task per region (background);
//   3. waits (polling, honouring cancellation, at most `run_timeout`) until
//      the regions' listings and the item and type fetches they caused have
//      had their first attempt;
//   4. classifies the contracts still waiting for a type that arrived
//      concurrently with their items, closes its rows and fills the run's counters from what the
//      completions recorded there.
// The agents fetch and the completions write (contract_store.h); the run only
// starts and watches. A database failure aborts the run with a CRITICAL log;
// the scheduler records the failed run and releases the lock.
//
// Ownership: borrows the pool and the queue. Thread-safety: Run from one
// thread at a time (the scheduler's guarantee).
#ifndef SLUICE_SERVER_WORKFLOWS_CONTRACTS_CONTRACT_AGGREGATION_JOB_H_
#define SLUICE_SERVER_WORKFLOWS_CONTRACTS_CONTRACT_AGGREGATION_JOB_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "server/queue/task_queue.h"
#include "server/scheduler/job.h"
#include "server/store/pg_pool.h"
#include "server/workflows/contracts/contract_store.h"

namespace sluice {

struct ContractJobOptions {
  std::vector<int64_t> regions;
  int type_refresh_batch = 20;
  Duration type_max_age = std::chrono::hours(24 * 30);
  Duration run_timeout = std::chrono::minutes(15);
  std::chrono::milliseconds poll_interval{250};
  // For the end-of-run classification sweep.
  ContractStoreSettings store;
};

class ContractAggregationJob final : public Job {
 public:
  static constexpr char kName[] = "contract_aggregation";

  ContractAggregationJob(PgPool* pool, TaskQueue* queue, ContractJobOptions options)
      : pool_(pool), queue_(queue), options_(std::move(options)), store_(options_.store) {}

  std::string name() const override { return kName; }
  absl::Status Run(JobContext& ctx) override;

 private:
  // The run's steps; each returns the database's error as is.
  absl::StatusOr<std::vector<int64_t>> StaleTypes(TimePoint now);
  absl::Status OpenRegionRows(const std::string& run_id, TimePoint now);
  absl::StatusOr<int64_t> Pending(const std::vector<int64_t>& refresh);
  absl::Status Finish(JobContext& ctx, const std::vector<int64_t>& refresh, TimePoint started);

  PgPool* const pool_;
  TaskQueue* const queue_;
  const ContractJobOptions options_;
  const ContractStore store_;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_WORKFLOWS_CONTRACTS_CONTRACT_AGGREGATION_JOB_H_
