#include "sim/esi_module.h"
#include "sim/killmail_routes.h"

namespace sluice::sim {

std::vector<std::unique_ptr<EsiModule>> MakeEsiModules(const Universe* universe,
                                                       const SimConfig& config,
                                                       const Clock* clock) {
  (void)universe, (void)config, (void)clock;
  std::vector<std::unique_ptr<EsiModule>> modules;
  modules.push_back(MakeKillmailRoutes(universe, config, clock));
  return modules;
}

}  // namespace sluice::sim
