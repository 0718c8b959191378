// Every task kind this agent binary can serve, and how to register them.
//
// Each handler file (agent/handlers/<kind>_handler.cc) exports one
// Register...Handler function that adds its HandlerSpec to the registry it
// is given; DefaultHandlerRegistry() lists them all and is what sluice-agent
// (BuildAgent's one-argument form) uses. A test or another binary may build a
// registry of its own from a few of these, or from specs of its own.
//
// Thread-safety: the functions only touch the registry they are given.
#ifndef SLUICE_AGENT_HANDLERS_ALL_HANDLERS_H_
#define SLUICE_AGENT_HANDLERS_ALL_HANDLERS_H_

#include "agent/handlers/handler_registry.h"

namespace sluice::agent {

// ESI entities.
void RegisterAllianceIdsHandler(HandlerRegistry& registry);           // alliance_ids
void RegisterAllianceHandler(HandlerRegistry& registry);              // alliance
void RegisterAllianceCorporationsHandler(HandlerRegistry& registry);  // alliance_corporations
void RegisterCorporationHandler(HandlerRegistry& registry);           // corporation
void RegisterCorporationMembersHandler(HandlerRegistry& registry);    // corporation_members
void RegisterCharacterHandler(HandlerRegistry& registry);             // character
// ESI killmails.
void RegisterCharacterKillmailsHandler(HandlerRegistry& registry);  // character_killmails
void RegisterKillmailHandler(HandlerRegistry& registry);            // killmail
// ESI public contracts and the type cache.
void RegisterContractsRegionHandler(HandlerRegistry& registry);  // contracts_region
void RegisterContractItemsHandler(HandlerRegistry& registry);    // contract_items
void RegisterUniverseTypeHandler(HandlerRegistry& registry);     // universe_type
// PoE cursor streams.
void RegisterPoeStashHandler(HandlerRegistry& registry);     // poe_stash_stream
void RegisterPoeExchangeHandler(HandlerRegistry& registry);  // poe_exchange_stream

// Registers every kind above into `registry` (dies if one is already there).
void RegisterAllHandlers(HandlerRegistry& registry);

// A registry holding every kind above.
HandlerRegistry DefaultHandlerRegistry();

}  // namespace sluice::agent

#endif  // SLUICE_AGENT_HANDLERS_ALL_HANDLERS_H_
