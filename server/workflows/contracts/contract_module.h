// ContractModule: see workflow_module.h. (Skeleton: filled in by the module's
// implementation.)
#ifndef SLUICE_SERVER_WORKFLOWS_CONTRACTS_CONTRACT_MODULE_H_
#define SLUICE_SERVER_WORKFLOWS_CONTRACTS_CONTRACT_MODULE_H_

#include <string>
#include <utility>
#include <vector>

#include "server/workflows/workflow_module.h"

namespace sluice {

struct ContractOptions {};

ContractOptions ContractOptionsFromFlags();
// (flag, ENV_VAR) pairs for this module's flags (12-factor configuration).
std::vector<std::pair<std::string, std::string>> ContractFlagEnv();

class ContractModule : public WorkflowModule {
 public:
  explicit ContractModule(ContractOptions options) : options_(std::move(options)) {}
  void RegisterKinds() override {}
  void Wire(WorkflowWiring& wiring) override { (void)wiring; }

 private:
  ContractOptions options_;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_WORKFLOWS_CONTRACTS_CONTRACT_MODULE_H_
