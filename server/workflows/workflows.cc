#include "server/workflows/workflows.h"

namespace sluice {

std::vector<std::unique_ptr<WorkflowModule>> MakeWorkflowModules(const WorkflowOptions& options) {
  std::vector<std::unique_ptr<WorkflowModule>> modules;
  modules.push_back(std::make_unique<EsiModule>(options.esi));
  modules.push_back(std::make_unique<KillmailModule>(options.killmails));
  modules.push_back(std::make_unique<ContractModule>(options.contracts));
  modules.push_back(std::make_unique<StreamModule>(options.streams));
  modules.push_back(std::make_unique<EtlModule>(options.etl));
  return modules;
}

WorkflowOptions WorkflowOptionsFromFlags() {
  WorkflowOptions options;
  options.esi = EsiOptionsFromFlags();
  options.killmails = KillmailOptionsFromFlags();
  options.contracts = ContractOptionsFromFlags();
  options.streams = StreamOptionsFromFlags();
  options.etl = EtlOptionsFromFlags();
  return options;
}

std::vector<std::pair<std::string, std::string>> WorkflowFlagEnv() {
  std::vector<std::pair<std::string, std::string>> out;
  for (auto part :
       {EsiFlagEnv(), KillmailFlagEnv(), ContractFlagEnv(), StreamFlagEnv(), EtlFlagEnv()}) {
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

absl::Status RegisterAllWorkflowKinds(TaskKindRegistry& kinds, TaskExtensionRegistry& extensions,
                                      const WorkflowOptions& options) {
  for (auto& module : MakeWorkflowModules(options)) {
    if (absl::Status s = module->RegisterKinds(kinds, extensions); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace sluice
