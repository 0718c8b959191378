#include "server/etl/etl_module.h"

namespace sluice {

EtlOptions EtlOptionsFromFlags() { return EtlOptions{}; }

std::vector<std::pair<std::string, std::string>> EtlFlagEnv() { return {}; }

}  // namespace sluice
