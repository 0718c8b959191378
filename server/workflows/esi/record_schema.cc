#include "server/workflows/esi/record_schema.h"

#include "absl/strings/str_cat.h"
#include "common/field_checks.h"
#include "common/text.h"

namespace sluice::esi {
namespace {

constexpr size_t kCharacterNameMax = 37;
constexpr size_t kGroupNameMax = 50;  // corporations and alliances
constexpr size_t kTickerMax = 5;

absl::Status Check(const v1::AllianceRecord& a, const std::string& f) {
  for (absl::Status s :
       {CheckId(f + ".alliance_id", a.alliance_id()),
        CheckText(f + ".name", a.name(), 1, kGroupNameMax),
        CheckText(f + ".ticker", a.ticker(), 1, kTickerMax),
        CheckOptionalId(f + ".creator_id", a.creator_id()),
        CheckOptionalId(f + ".creator_corporation_id", a.creator_corporation_id()),
        CheckOptionalId(f + ".executor_corporation_id", a.executor_corporation_id()),
        CheckOptionalId(f + ".faction_id", a.faction_id())}) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status Check(const v1::CorporationRecord& c, const std::string& f) {
  for (absl::Status s : {CheckId(f + ".corporation_id", c.corporation_id()),
                         CheckText(f + ".name", c.name(), 1, kGroupNameMax),
                         CheckText(f + ".ticker", c.ticker(), 1, kTickerMax),
                         CheckOptionalId(f + ".creator_id", c.creator_id()),
                         CheckOptionalId(f + ".member_count", c.member_count()),
                         CheckOptionalId(f + ".ceo_id", c.ceo_id()),
                         CheckOptionalId(f + ".alliance_id", c.alliance_id()),
                         CheckInRange(f + ".tax_rate", c.tax_rate(), 0, 1),
                         CheckOptionalId(f + ".faction_id", c.faction_id())}) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status Check(const v1::CharacterRecord& c, const std::string& f) {
  for (absl::Status s : {CheckId(f + ".character_id", c.character_id()),
                         CheckText(f + ".name", c.name(), 1, kCharacterNameMax),
                         CheckOptionalId(f + ".race_id", c.race_id()),
                         CheckOptionalId(f + ".bloodline_id", c.bloodline_id()),
                         CheckOptionalId(f + ".corporation_id", c.corporation_id()),
                         CheckOptionalId(f + ".alliance_id", c.alliance_id()),
                         CheckInRange(f + ".security_status", c.security_status(), -10, 10)}) {
    if (!s.ok()) return s;
  }
  // ESI's enum; "" when a test double or an older agent leaves it out.
  const std::string& g = c.gender();
  if (!g.empty() && g != "female" && g != "male") {
    return absl::InvalidArgumentError(
        absl::StrCat(f, ".gender: must be \"female\" or \"male\", got ", QuotePrefix(g, 16)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckEntityRecord(const v1::EntityRecord& record, const std::string& field) {
  switch (record.record_case()) {
    case v1::EntityRecord::kAlliance:
      return Check(record.alliance(), field);
    case v1::EntityRecord::kCorporation:
      return Check(record.corporation(), field);
    case v1::EntityRecord::kCharacter:
      return Check(record.character(), field);
    case v1::EntityRecord::RECORD_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(field + ": no record set");
}

}  // namespace sluice::esi
