#include "server/workflows/contracts/ship_classifier.h"

namespace sluice {

ShipClassification ClassifyContract(const std::string& contract_type,
                                    const std::vector<ClassifierItem>& items,
                                    const std::map<int64_t, int64_t>& groups,
                                    const std::set<int64_t>& ship_groups) {
  ShipClassification out;
  out.contains_additional_items = items.size() > 1;
  if (contract_type != "item_exchange") {
    out.decided = true;
    return out;
  }
  const ClassifierItem* ship = nullptr;
  int ships = 0;
  std::set<int64_t> missing;
  for (const ClassifierItem& item : items) {
    if (!item.is_included) continue;  // asked in return, not sold
    auto g = groups.find(item.type_id);
    if (g == groups.end()) {
      missing.insert(item.type_id);
      continue;
    }
    if (ship_groups.count(g->second) != 0) {
      ++ships;
      ship = &item;
    }
  }
  if (!missing.empty()) {
    // Two known ships already settle it: no unknown type can make it one.
    if (ships < 2) {
      out.missing_types.assign(missing.begin(), missing.end());
      return out;
    }
  }
  out.decided = true;
  if (ships != 1) return out;
  out.is_ship_contract = true;
  out.ship_type_id = ship->type_id;
  out.quantity = ship->quantity;
  out.is_blueprint_copy = ship->is_blueprint_copy;
  out.runs = ship->runs;
  out.material_efficiency = ship->material_efficiency;
  out.time_efficiency = ship->time_efficiency;
  return out;
}

const std::vector<int64_t>& DefaultShipGroupIds() {
  static const std::vector<int64_t> kGroups = {
      25,    // Frigate
      26,    // Cruiser
      27,    // Battleship
      28,    // Industrial
      30,    // Titan
      237,   // Corvette
      324,   // Assault Frigate
      358,   // Heavy Assault Cruiser
      380,   // Deep Space Transport
      419,   // Combat Battlecruiser
      420,   // Destroyer
      463,   // Mining Barge
      485,   // Dreadnought
      513,   // Freighter
      540,   // Command Ship
      541,   // Interdictor
      543,   // Exhumer
      547,   // Carrier
      659,   // Supercarrier
      830,   // Covert Ops
      831,   // Interceptor
      832,   // Logistics
      833,   // Force Recon Ship
      834,   // Stealth Bomber
      893,   // Electronic Attack Ship
      894,   // Heavy Interdiction Cruiser
      898,   // Black Ops
      900,   // Marauder
      902,   // Jump Freighter
      906,   // Combat Recon Ship
      941,   // Industrial Command Ship
      963,   // Strategic Cruiser
      1201,  // Attack Battlecruiser
      1202,  // Blockade Runner
      1283,  // Expedition Frigate
      1305,  // Tactical Destroyer
      1527,  // Logistics Frigate
      1534,  // Command Destroyer
      1538,  // Force Auxiliary
      1972,  // Flag Cruiser
  };
  return kGroups;
}

}  // namespace sluice
