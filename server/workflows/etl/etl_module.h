// EtlModule (see workflow_module.h) runs the PoE silver/gold transforms
// (poe_transforms.h), keeps poe_ingest_status fresh (ingest_status.h),
// evaluates the stream alerts (alert_rules.h) and records their firing /
// resolved changes (alert_store.h), and serves StreamService.
//
// Two ways the transforms run, both safe at once (they serialize on the
// transforms' checkpoint rows):
//   - the module's loop, every --etl_interval_ms: a bounded pass of the
//     transforms, then status and alerts. It writes no job_runs rows (a row
//     every 2 s would drown the job history);
//   - the scheduler job "poe_transform" (--etl_job_interval_s, and `sluicectl
//     jobs run poe_transform --wait`): transforms until caught up, with a
//     job_runs summary.
//
// Ownership: owns its components; borrows the wiring. Thread-safety: the
// Coordinator calls the WorkflowModule methods from one thread; Tick() may be
// called from any thread but not concurrently with itself (the loop is its
// only caller in production; tests call it with the loop off).
#ifndef SLUICE_SERVER_WORKFLOWS_ETL_ETL_MODULE_H_
#define SLUICE_SERVER_WORKFLOWS_ETL_ETL_MODULE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "server/workflows/etl/alert_rules.h"
#include "server/workflows/workflow_module.h"

namespace sluice {

namespace etl {
class AlertStore;
class IngestStatusReader;
class PoeTransforms;
}  // namespace etl
class StreamServiceImpl;

struct EtlOptions {
  // The background loop (transforms, status table, alerts).
  bool loop_enabled = true;
  std::chrono::milliseconds interval{2000};
  // Raw rows per transform transaction, and batches per transform per tick.
  int batch_size = 1000;
  int max_batches_per_tick = 20;
  // Run the transforms in the loop (status and alerts run regardless).
  bool transforms_in_loop = true;
  std::chrono::seconds job_interval{300};
  // The status window (request rate, errors, 429s).
  std::chrono::seconds status_window{300};
  etl::AlertOptions alerts;
};

EtlOptions EtlOptionsFromFlags();
// (flag, ENV_VAR) pairs for this module's flags (12-factor configuration).
std::vector<std::pair<std::string, std::string>> EtlFlagEnv();

class EtlModule : public WorkflowModule {
 public:
  explicit EtlModule(EtlOptions options);
  ~EtlModule() override;

  absl::Status RegisterKinds(TaskKindRegistry&, TaskExtensionRegistry&) override {
    return absl::OkStatus();
  }
  void Wire(WorkflowWiring& wiring) override;
  void Start() override;
  void Stop() override;

  // One round of the loop: a transform pass (if enabled), the status table,
  // the alerts. Returns the first error (the loop logs it and goes on).
  absl::Status Tick();

  // After Wire.
  etl::PoeTransforms* transforms() { return transforms_.get(); }
  etl::IngestStatusReader* status() { return status_.get(); }

 private:
  void Loop();
  absl::Status EvaluateAlerts();

  const EtlOptions options_;
  const Clock* clock_ = nullptr;
  std::unique_ptr<etl::PoeTransforms> transforms_;
  std::unique_ptr<etl::IngestStatusReader> status_;
  std::unique_ptr<etl::AlertRules> rules_;
  std::unique_ptr<etl::AlertStore> alert_store_;
  std::unique_ptr<StreamServiceImpl> service_;

  // Alerts firing as last recorded; loaded from alert_events on first use.
  bool firing_loaded_ = false;
  std::map<std::string, etl::Alert> firing_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_requested_ = false;
  std::atomic<bool> stopping_{false};
  std::thread loop_;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_WORKFLOWS_ETL_ETL_MODULE_H_
