#include "agent/handlers/all_handlers.h"

namespace sluice::agent {

void RegisterAllHandlers(HandlerRegistry& registry) {
  RegisterAllianceIdsHandler(registry);
  RegisterAllianceHandler(registry);
  RegisterAllianceCorporationsHandler(registry);
  RegisterCorporationHandler(registry);
  RegisterCorporationMembersHandler(registry);
  RegisterCharacterHandler(registry);
  RegisterCharacterKillmailsHandler(registry);
  RegisterKillmailHandler(registry);
  RegisterContractsRegionHandler(registry);
  RegisterContractItemsHandler(registry);
  RegisterUniverseTypeHandler(registry);
  RegisterPoeStashHandler(registry);
  RegisterPoeExchangeHandler(registry);
}

HandlerRegistry DefaultHandlerRegistry() {
  HandlerRegistry registry;
  RegisterAllHandlers(registry);
  return registry;
}

}  // namespace sluice::agent
