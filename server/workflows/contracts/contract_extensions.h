// The TaskExtensions of the contract kinds (store/task_extension.h): they
// translate completions and failures of contracts_region, contract_items and
// universe_type into ContractStore calls.
//
// Thread-safety: stateless apart from the immutable store settings.
#ifndef SLUICE_SERVER_WORKFLOWS_CONTRACTS_CONTRACT_EXTENSIONS_H_
#define SLUICE_SERVER_WORKFLOWS_CONTRACTS_CONTRACT_EXTENSIONS_H_

#include <memory>

#include "absl/status/status.h"
#include "server/queue/task_kinds.h"
#include "server/store/task_extension.h"
#include "server/workflows/contracts/contract_store.h"

namespace sluice {

// Registers the three kinds and their extensions.
absl::Status RegisterContractKinds(const ContractStoreSettings& settings, TaskKindRegistry& kinds,
                                   TaskExtensionRegistry& extensions);

}  // namespace sluice

#endif  // SLUICE_SERVER_WORKFLOWS_CONTRACTS_CONTRACT_EXTENSIONS_H_
