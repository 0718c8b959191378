// What the contract workflow accepts from an agent: ESI's schemas, checked
// before anything is written, each refusal naming its field.
#include "server/workflows/contracts/contract_schema.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

namespace sluice::contracts {
namespace {

using ::testing::HasSubstr;

v1::PublicContract GoodContract() {
  v1::PublicContract c;
  c.set_contract_id(200000001);
  c.set_type("item_exchange");
  c.set_issuer_id(2112000001);
  c.set_issuer_corporation_id(98000001);
  c.set_price(1.5e9);
  c.set_volume(2500);
  c.set_start_location_id(60003760);
  c.set_title("WTS Rifter");
  return c;
}

// `field` is refused once `spoil` is applied to a good record.
template <typename Record>
void ExpectRefusal(Record good, const std::function<void(Record&)>& spoil,
                   const std::function<absl::Status(const Record&)>& check,
                   const std::string& field) {
  ASSERT_TRUE(check(good).ok()) << check(good);
  spoil(good);
  absl::Status s = check(good);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << field;
  EXPECT_THAT(std::string(s.message()), HasSubstr(field));
}

TEST(ContractSchemaTest, AContractBreakingEsisSchemaIsRefusedNamingTheField) {
  auto check = [](const v1::PublicContract& c) { return CheckPublicContract(c, "c"); };
  using C = v1::PublicContract;
  for (const char* type : {"unknown", "item_exchange", "auction", "courier", "loan"}) {
    C c = GoodContract();
    c.set_type(type);
    EXPECT_TRUE(check(c).ok()) << type;
  }
  ExpectRefusal<C>(
      GoodContract(), [](C& c) { c.set_type("barter"); }, check, "c.type");
  ExpectRefusal<C>(
      GoodContract(), [](C& c) { c.set_contract_id(0); }, check, "c.contract_id");
  ExpectRefusal<C>(
      GoodContract(), [](C& c) { c.set_issuer_id(-4); }, check, "c.issuer_id");
  ExpectRefusal<C>(
      GoodContract(), [](C& c) { c.set_price(-1); }, check, "c.price");
  ExpectRefusal<C>(
      GoodContract(), [](C& c) { c.set_collateral(NAN); }, check, "c.collateral");
  ExpectRefusal<C>(
      GoodContract(), [](C& c) { c.set_days_to_complete(-2); }, check, "c.days_to_complete");
  ExpectRefusal<C>(
      GoodContract(), [](C& c) { c.set_end_location_id(-1); }, check, "c.end_location_id");
  ExpectRefusal<C>(
      GoodContract(), [](C& c) { c.set_title(std::string("a\0b", 3)); }, check, "c.title");
  ExpectRefusal<C>(
      GoodContract(), [](C& c) { c.set_title(std::string(2000, 'x')); }, check, "c.title");
}

TEST(ContractSchemaTest, AnItemBreakingEsisSchemaIsRefusedNamingTheField) {
  using I = v1::PublicContractItem;
  I good;
  good.set_record_id(2000000011);
  good.set_type_id(587);
  good.set_quantity(1);
  good.set_runs(-1);  // an original blueprint
  auto check = [](const I& i) { return CheckContractItem(i, "i"); };
  ExpectRefusal<I>(
      good, [](I& i) { i.set_record_id(0); }, check, "i.record_id");
  ExpectRefusal<I>(
      good, [](I& i) { i.set_type_id(-587); }, check, "i.type_id");
  ExpectRefusal<I>(
      good, [](I& i) { i.set_quantity(-3); }, check, "i.quantity");
  ExpectRefusal<I>(
      good, [](I& i) { i.set_runs(-2); }, check, "i.runs");
  ExpectRefusal<I>(
      good, [](I& i) { i.set_item_id(-1); }, check, "i.item_id");
}

TEST(ContractSchemaTest, ATypeBreakingEsisSchemaIsRefusedNamingTheField) {
  using T = v1::UniverseTypeRecord;
  T good;
  good.set_type_id(587);
  good.set_name("Rifter");
  good.set_group_id(25);
  good.set_volume(27289);
  auto check = [](const T& t) { return CheckUniverseType(t, "payload"); };
  ExpectRefusal<T>(
      good, [](T& t) { t.set_name(""); }, check, "payload.name");
  ExpectRefusal<T>(
      good, [](T& t) { t.set_name("Rif\x01ter"); }, check, "payload.name");
  ExpectRefusal<T>(
      good, [](T& t) { t.set_group_id(0); }, check, "payload.group_id");
  ExpectRefusal<T>(
      good, [](T& t) { t.set_packaged_volume(-1); }, check, "payload.packaged_volume");
}

}  // namespace
}  // namespace sluice::contracts
