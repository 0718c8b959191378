// Seed 004's ship-contract rule, as a pure function of a contract's type, its
// items and the groups of their types (no database, no I/O), so the rule is
// tested by a table.
//
// The rule: an item_exchange contract is a ship contract when exactly one of
// its included items (is_included: what the issuer gives) is a ship, i.e. its
// type's group_id is in the configured ship groups. The ship item's fields
// (type id, quantity, blueprint copy, runs, ME, TE) are copied onto the
// contract; contains_additional_items is set when the contract has more than
// one item in total (items asked in return included).
//
// is_singleton: the seed says "exactly one packaged item (is_singleton=True)",
// but in ESI is_singleton=true means *assembled* (unpackaged), so the two
// halves contradict each other. We read the seed's intent as "one ship item
// row", and classify on the group alone: an assembled ship and a stack of
// packaged ships (quantity copied onto the contract) both count.
//
// Thread-safety: pure functions.
#ifndef SLUICE_SERVER_WORKFLOWS_CONTRACTS_SHIP_CLASSIFIER_H_
#define SLUICE_SERVER_WORKFLOWS_CONTRACTS_SHIP_CLASSIFIER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace sluice {

struct ClassifierItem {
  int64_t type_id = 0;
  int64_t quantity = 0;
  bool is_included = true;
  bool is_singleton = false;
  bool is_blueprint_copy = false;
  std::optional<int> runs;
  std::optional<int> material_efficiency;
  std::optional<int> time_efficiency;
};

struct ShipClassification {
  // False while a type the rule needs has no known group: classify again when
  // the types in `missing_types` arrive.
  bool decided = false;
  std::vector<int64_t> missing_types;
  bool is_ship_contract = false;
  // Copied from the ship item when is_ship_contract.
  int64_t ship_type_id = 0;
  int64_t quantity = 0;
  bool is_blueprint_copy = false;
  std::optional<int> runs;
  std::optional<int> material_efficiency;
  std::optional<int> time_efficiency;
  // More than one item in the contract (decided for every item_exchange).
  bool contains_additional_items = false;
};

// `groups`: type id -> group id for the types known to the cache.
ShipClassification ClassifyContract(const std::string& contract_type,
                                    const std::vector<ClassifierItem>& items,
                                    const std::map<int64_t, int64_t>& groups,
                                    const std::set<int64_t>& ship_groups);

// Real EVE ship group ids: frigates to titans (see ship_classifier.cc). The
// capsule (29) is not in it: pods are not traded as ship contracts.
const std::vector<int64_t>& DefaultShipGroupIds();

}  // namespace sluice

#endif  // SLUICE_SERVER_WORKFLOWS_CONTRACTS_SHIP_CLASSIFIER_H_
