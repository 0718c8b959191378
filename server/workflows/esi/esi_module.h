// EsiModule: the core ESI sync (seed 001) as a workflow module like the
// others: its task kinds and the extension that writes entity records
// (esi_kinds.h), the daily sequence and its job (daily_esi_job.h), and the
// daily alliance and corporation snapshots (snapshot_job.h).
//
// Ownership: owns nothing but its options; borrows the wiring.
#ifndef SLUICE_SERVER_WORKFLOWS_ESI_ESI_MODULE_H_
#define SLUICE_SERVER_WORKFLOWS_ESI_ESI_MODULE_H_

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "server/workflows/workflow_module.h"

namespace sluice {

struct EsiOptions {
  // daily_esi: seed 001's sequence, and whether it also refreshes every
  // character already known.
  Duration daily_interval = std::chrono::hours(24);
  bool daily_characters = false;
  // snapshots: alliance and corporation rows for the current UTC day.
  Duration snapshot_interval = std::chrono::hours(24);
};

EsiOptions EsiOptionsFromFlags();
// (flag, ENV_VAR) pairs for this module's flags.
std::vector<std::pair<std::string, std::string>> EsiFlagEnv();

class EsiModule : public WorkflowModule {
 public:
  explicit EsiModule(EsiOptions options) : options_(options) {}
  absl::Status RegisterKinds(TaskKindRegistry& kinds, TaskExtensionRegistry& extensions) override;
  void Wire(WorkflowWiring& wiring) override;

 private:
  EsiOptions options_;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_WORKFLOWS_ESI_ESI_MODULE_H_
