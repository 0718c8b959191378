#include "server/workflows/contracts/contract_schema.h"

#include <limits>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/field_checks.h"
#include "common/text.h"

namespace sluice::contracts {
namespace {

// ESI's enum for a public contract's type.
constexpr const char* kTypes[] = {"unknown", "item_exchange", "auction", "courier", "loan"};
// Storage bounds: ESI documents no length for these, and real ones are short.
constexpr size_t kTitleMax = 1000;
constexpr size_t kTypeNameMax = 1000;
constexpr double kMaxAmount = std::numeric_limits<double>::max();

absl::Status Amount(const std::string& field, bool has, double v) {
  return has ? CheckInRange(field, v, 0, kMaxAmount) : absl::OkStatus();
}

absl::Status First(std::initializer_list<absl::Status> checks) {
  for (const absl::Status& s : checks) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckPublicContract(const v1::PublicContract& c, const std::string& f) {
  bool known_type = false;
  for (const char* t : kTypes) known_type = known_type || c.type() == t;
  if (!known_type) {
    return absl::InvalidArgumentError(
        absl::StrCat(f, ".type: ", QuotePrefix(c.type()), " is not a contract type ESI knows"));
  }
  return First({CheckId(f + ".contract_id", c.contract_id()),
                CheckId(f + ".issuer_id", c.issuer_id()),
                CheckId(f + ".issuer_corporation_id", c.issuer_corporation_id()),
                Amount(f + ".price", c.has_price(), c.price()),
                Amount(f + ".reward", c.has_reward(), c.reward()),
                Amount(f + ".collateral", c.has_collateral(), c.collateral()),
                Amount(f + ".buyout", c.has_buyout(), c.buyout()),
                Amount(f + ".volume", c.has_volume(), c.volume()),
                CheckInRange(f + ".days_to_complete", c.days_to_complete(), 0, 3650),
                CheckOptionalId(f + ".start_location_id", c.start_location_id()),
                CheckOptionalId(f + ".end_location_id", c.end_location_id()),
                CheckText(f + ".title", c.title(), 0, kTitleMax)});
}

absl::Status CheckContractItem(const v1::PublicContractItem& i, const std::string& f) {
  return First({CheckId(f + ".record_id", i.record_id()), CheckId(f + ".type_id", i.type_id()),
                CheckInRange(f + ".quantity", static_cast<double>(i.quantity()), 0,
                             static_cast<double>(std::numeric_limits<int64_t>::max())),
                CheckInRange(f + ".runs", i.has_runs() ? i.runs() : 0, -1,
                             std::numeric_limits<int32_t>::max()),
                CheckOptionalId(f + ".item_id", i.item_id())});
}

absl::Status CheckUniverseType(const v1::UniverseTypeRecord& t, const std::string& f) {
  return First(
      {CheckId(f + ".type_id", t.type_id()), CheckText(f + ".name", t.name(), 1, kTypeNameMax),
       CheckId(f + ".group_id", t.group_id()), Amount(f + ".volume", t.has_volume(), t.volume()),
       Amount(f + ".packaged_volume", t.has_packaged_volume(), t.packaged_volume()),
       CheckOptionalId(f + ".market_group_id", t.market_group_id())});
}

}  // namespace sluice::contracts
