// What the contract workflow accepts from an agent, checked before anything
// is written (the other half of the validation the agent's handlers do on
// ESI's JSON): ids positive, amounts finite and not negative, the contract
// type one ESI documents, text storable (common/text.h). Each returns
// INVALID_ARGUMENT naming the field (`field` is its path, e.g.
// "payload.contracts[3]").
//
// ESI's schemas: GET /contracts/public/{region_id}/,
// /contracts/public/items/{contract_id}/ and /universe/types/{type_id}/
// (esi.evetech.net's OpenAPI document).
#ifndef SLUICE_SERVER_WORKFLOWS_CONTRACTS_CONTRACT_SCHEMA_H_
#define SLUICE_SERVER_WORKFLOWS_CONTRACTS_CONTRACT_SCHEMA_H_

#include <string>

#include "absl/status/status.h"
#include "sluice/v1/contracts.pb.h"

namespace sluice::contracts {

absl::Status CheckPublicContract(const v1::PublicContract& c, const std::string& field);
absl::Status CheckContractItem(const v1::PublicContractItem& item, const std::string& field);
absl::Status CheckUniverseType(const v1::UniverseTypeRecord& type, const std::string& field);

}  // namespace sluice::contracts

#endif  // SLUICE_SERVER_WORKFLOWS_CONTRACTS_CONTRACT_SCHEMA_H_
