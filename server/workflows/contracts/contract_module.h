// ContractModule: seed 004's public contract aggregation with the universe
// type cache and ship classification (see workflow_module.h for the seam).
//
//   kinds      contracts_region, contract_items, universe_type
//              (contract_extensions.h; the listing step in contract_listing.h,
//              writes in contract_store.h, every statement in contract_sql.h)
//   job        contract_aggregation (contract_aggregation_job.h)
//   rule       ship_classifier.h
//
// Ownership: owns nothing beyond its options; the job belongs to the
// scheduler. Thread-safety: as WorkflowModule.
#ifndef SLUICE_SERVER_WORKFLOWS_CONTRACTS_CONTRACT_MODULE_H_
#define SLUICE_SERVER_WORKFLOWS_CONTRACTS_CONTRACT_MODULE_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "server/workflows/contracts/ship_classifier.h"
#include "server/workflows/workflow_module.h"

namespace sluice {

struct ContractOptions {
  // The Forge (Jita) and Domain (Amarr).
  std::vector<int64_t> regions = {10000002, 10000043};
  // Seed 004: every 15-30 minutes.
  Duration interval = std::chrono::seconds(1200);
  std::vector<int64_t> ship_group_ids = DefaultShipGroupIds();
  int type_refresh_batch = 20;
  Duration type_max_age = std::chrono::hours(24 * 30);
  Duration run_timeout = std::chrono::seconds(900);
  // Contracts per upsert statement.
  int batch_size = 500;
};

ContractOptions ContractOptionsFromFlags();
// (flag, ENV_VAR) pairs for this module's flags (12-factor configuration).
std::vector<std::pair<std::string, std::string>> ContractFlagEnv();

class ContractModule : public WorkflowModule {
 public:
  explicit ContractModule(ContractOptions options) : options_(std::move(options)) {}
  absl::Status RegisterKinds(TaskKindRegistry& kinds, TaskExtensionRegistry& extensions) override;
  void Wire(WorkflowWiring& wiring) override;

 private:
  ContractOptions options_;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_WORKFLOWS_CONTRACTS_CONTRACT_MODULE_H_
