#include "server/workflows/contracts/contract_module.h"

namespace sluice {

ContractOptions ContractOptionsFromFlags() { return ContractOptions{}; }

std::vector<std::pair<std::string, std::string>> ContractFlagEnv() { return {}; }

}  // namespace sluice
