#include "sim/contract_routes.h"
#include "sim/esi_module.h"
#include "sim/killmail_routes.h"

namespace sluice::sim {

std::vector<std::unique_ptr<EsiModule>> MakeEsiModules(const Universe* universe,
                                                       const SimConfig& config,
                                                       const Clock* clock) {
  (void)universe, (void)config, (void)clock;
  std::vector<std::unique_ptr<EsiModule>> modules;
  modules.push_back(MakeKillmailRoutes(universe, config, clock));
  modules.push_back(std::make_unique<ContractRoutes>(config, clock));
  return modules;
}

}  // namespace sluice::sim
