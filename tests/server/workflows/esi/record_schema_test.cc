// ESI entity records are checked against ESI's schema before the database:
// what real answers hold passes, what none holds is refused naming the field.
#include "server/workflows/esi/record_schema.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace sluice::esi {
namespace {

v1::EntityRecord Character() {
  v1::EntityRecord r;
  auto* c = r.mutable_character();
  c->set_character_id(2112000001);
  c->set_name("Ånnа Þórsdóttir");  // non-ASCII names are real
  c->set_gender("female");
  c->set_race_id(1);
  c->set_bloodline_id(3);
  c->set_corporation_id(98000001);
  c->set_security_status(-9.9);
  return r;
}

v1::EntityRecord Corporation() {
  v1::EntityRecord r;
  auto* c = r.mutable_corporation();
  c->set_corporation_id(98000001);
  c->set_name("Brave Newbies Inc.");
  c->set_ticker("BRAVE");
  c->set_member_count(0);
  c->set_tax_rate(1.0);
  return r;
}

std::string Refusal(const v1::EntityRecord& r) {
  absl::Status s = CheckEntityRecord(r, "records[0]");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  return std::string(s.message());
}

TEST(RecordSchemaTest, RecordsRealAnswersHoldPass) {
  EXPECT_TRUE(CheckEntityRecord(Character(), "records[0]").ok());
  EXPECT_TRUE(CheckEntityRecord(Corporation(), "records[0]").ok());
  v1::EntityRecord a;
  a.mutable_alliance()->set_alliance_id(99000001);
  a.mutable_alliance()->set_name(std::string(50, 'A'));
  a.mutable_alliance()->set_ticker("-A-");
  EXPECT_TRUE(CheckEntityRecord(a, "records[0]").ok());
}

TEST(RecordSchemaTest, EachFieldIsCheckedAndNamed) {
  v1::EntityRecord r = Character();
  r.mutable_character()->set_name(std::string("Bad\0Name", 8));
  EXPECT_NE(Refusal(r).find("records[0].name"), std::string::npos);
  r = Character();
  r.mutable_character()->set_name(std::string(38, 'x'));
  EXPECT_NE(Refusal(r).find("records[0].name"), std::string::npos) << "37 characters at most";
  r = Character();
  r.mutable_character()->set_gender("unknown");
  EXPECT_NE(Refusal(r).find("records[0].gender"), std::string::npos);
  r = Character();
  r.mutable_character()->set_security_status(11);
  EXPECT_NE(Refusal(r).find("records[0].security_status"), std::string::npos);
  r = Character();
  r.mutable_character()->set_corporation_id(-1);
  EXPECT_NE(Refusal(r).find("records[0].corporation_id"), std::string::npos);
  r = Corporation();
  r.mutable_corporation()->set_ticker("TOOLONG");
  EXPECT_NE(Refusal(r).find("records[0].ticker"), std::string::npos);
  r = Corporation();
  r.mutable_corporation()->set_tax_rate(std::nan(""));
  EXPECT_NE(Refusal(r).find("records[0].tax_rate"), std::string::npos);
  r = Corporation();
  r.mutable_corporation()->set_corporation_id(0);
  EXPECT_NE(Refusal(r).find("records[0].corporation_id"), std::string::npos);
  EXPECT_NE(Refusal(v1::EntityRecord()).find("no record set"), std::string::npos);
}

}  // namespace
}  // namespace sluice::esi
