// The TaskExtensions of the contract kinds (store/task_extension.h): they
// translate completions and failures of contracts_region, contract_items and
// universe_type into ContractStore calls.
//
// Thread-safety: stateless apart from the immutable store settings.
#ifndef SLUICE_SERVER_WORKFLOWS_CONTRACTS_CONTRACT_EXTENSIONS_H_
#define SLUICE_SERVER_WORKFLOWS_CONTRACTS_CONTRACT_EXTENSIONS_H_

#include <memory>

#include "server/workflows/contracts/contract_store.h"

namespace sluice {

// Registers the three kinds and their extensions (idempotent; the first
// registration's settings win, as for every extension).
void RegisterContractKinds(const ContractStoreSettings& settings);

}  // namespace sluice

#endif  // SLUICE_SERVER_WORKFLOWS_CONTRACTS_CONTRACT_EXTENSIONS_H_
