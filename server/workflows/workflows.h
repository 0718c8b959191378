// The coordinator's workflow modules and their options, in one place so the
// coordinator and main() name no module.
#ifndef SLUICE_SERVER_WORKFLOWS_WORKFLOWS_H_
#define SLUICE_SERVER_WORKFLOWS_WORKFLOWS_H_

#include <memory>
#include <vector>

#include "server/workflows/contracts/contract_module.h"
#include "server/workflows/esi/esi_module.h"
#include "server/workflows/etl/etl_module.h"
#include "server/workflows/killmails/killmail_module.h"
#include "server/workflows/streams/stream_module.h"
#include "server/workflows/workflow_module.h"

namespace sluice {

struct WorkflowOptions {
  EsiOptions esi;
  KillmailOptions killmails;
  ContractOptions contracts;
  StreamOptions streams;
  EtlOptions etl;
};

// Every module, configured; the core ESI sync first.
std::vector<std::unique_ptr<WorkflowModule>> MakeWorkflowModules(const WorkflowOptions& options);

// From the modules' command-line flags (each module defines its own).
WorkflowOptions WorkflowOptionsFromFlags();
// Every module's (flag, ENV_VAR) pairs, for InitProcess.
std::vector<std::pair<std::string, std::string>> WorkflowFlagEnv();

// Registers every module's task kinds and extensions (tests, tools).
absl::Status RegisterAllWorkflowKinds(TaskKindRegistry& kinds, TaskExtensionRegistry& extensions,
                                      const WorkflowOptions& options = {});

}  // namespace sluice

#endif  // SLUICE_SERVER_WORKFLOWS_WORKFLOWS_H_
