// The ESI handlers against recorded ESI-shaped bodies: records, discovered
// ids, and the failures an unusable body must produce.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/core/outcome.h"
#include "agent/handlers/all_handlers.h"
#include "agent/handlers/esi_json.h"
#include "common/time_util.h"
#include "sluice/v1/contracts.pb.h"
#include "sluice/v1/killmails.pb.h"
#include "sluice/v1/poe.pb.h"
#include "tests/agent/fakes.h"

namespace sluice::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::JsonResponse;
using ::testing::UnorderedElementsAre;

constexpr char kEsi[] = "http://esi.test/latest";

// ESI /alliances/99005338/ (trimmed to the fields ESI documents).
constexpr char kAllianceBody[] = R"({
  "creator_corporation_id": 98388312,
  "creator_id": 2114327893,
  "date_founded": "2015-06-05T18:46:23Z",
  "executor_corporation_id": 98388312,
  "name": "Pandemic Horde",
  "ticker": "REKTD"
})";

constexpr char kCorporationBody[] = R"({
  "alliance_id": 99005338,
  "ceo_id": 2114327893,
  "creator_id": 95465499,
  "date_founded": "2015-06-05T18:41:01Z",
  "description": "Join us",
  "home_station_id": 60003760,
  "member_count": 12345,
  "name": "Pandemic Horde Inc.",
  "shares": 1000,
  "tax_rate": 0.1,
  "ticker": "REKTD",
  "url": "",
  "war_eligible": true
})";

// An NPC corporation: NPC CEO, system creator, no founding date.
constexpr char kNpcCorporationBody[] = R"({
  "ceo_id": 3004049,
  "creator_id": 1,
  "description": "",
  "faction_id": 500001,
  "member_count": 500000,
  "name": "State War Academy",
  "tax_rate": 0.11,
  "ticker": "SWA"
})";

constexpr char kCharacterBody[] = R"({
  "alliance_id": 99005338,
  "birthday": "2013-05-18T13:58:48Z",
  "bloodline_id": 4,
  "corporation_id": 98388312,
  "description": "",
  "gender": "male",
  "name": "Some Pilot",
  "race_id": 2,
  "security_status": -1.2345
})";

sluice::v1::Task MakeTask(const std::string& kind, int64_t id, const std::string& etag = "") {
  sluice::v1::Task t;
  t.set_task_id(7);
  t.set_kind(kind);
  t.set_entity_id(id);
  t.set_fencing_token(42);
  t.set_etag(etag);
  return t;
}

class HandlerTest : public ::testing::Test {
 protected:
  std::unique_ptr<Handler> Make(const std::string& kind, const std::string& token = "") {
    HandlerConfig config;
    config.esi_base_url = kEsi;
    config.esi_token = token;
    const HandlerSpec* spec = registry_.Find(kind);
    EXPECT_NE(spec, nullptr) << kind;
    return spec->factory(config);
  }

  absl::StatusOr<HandlerResult> Parse(const std::string& kind, int64_t id, const std::string& body,
                                      const std::string& token = "") {
    return Make(kind, token)->Parse(MakeTask(kind, id), JsonResponse(200, body));
  }

  static std::vector<int64_t> Ids(const sluice::v1::Discovered& d) {
    return {d.ids().begin(), d.ids().end()};
  }
  static const sluice::v1::Discovered* FindDiscovered(const HandlerResult& r,
                                                      const std::string& kind) {
    for (const auto& d : r.discovered) {
      if (d.kind() == kind) return &d;
    }
    return nullptr;
  }

  const HandlerRegistry registry_ = DefaultHandlerRegistry();
};

TEST_F(HandlerTest, AllianceIdsRequestsTheAllianceList) {
  EXPECT_EQ(Make("alliance_ids")->BuildRequest(MakeTask("alliance_ids", 0)).url,
            "http://esi.test/latest/alliances/");
}

TEST_F(HandlerTest, AllianceIdsDiscoversAlliancesAndTheirCorporationListsForced) {
  auto r = Parse("alliance_ids", 0, "[99005338, 1354830081, 99005338]");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->records, IsEmpty());
  ASSERT_EQ(r->discovered.size(), 2u);
  const auto* alliances = FindDiscovered(*r, "alliance");
  const auto* lists = FindDiscovered(*r, "alliance_corporations");
  ASSERT_NE(alliances, nullptr);
  ASSERT_NE(lists, nullptr);
  EXPECT_THAT(Ids(*alliances), ElementsAre(99005338, 1354830081));
  EXPECT_THAT(Ids(*lists), ElementsAre(99005338, 1354830081));
  EXPECT_TRUE(alliances->force());
  EXPECT_TRUE(lists->force());
}

TEST_F(HandlerTest, AllianceIdsEmptyListDiscoversNothing) {
  auto r = Parse("alliance_ids", 0, "[]");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->discovered, IsEmpty());
}

TEST_F(HandlerTest, AllianceIdsRejectsNonIntegerElements) {
  auto r = Parse("alliance_ids", 0, R"([99005338, "x"])");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("element 1"));
}

TEST_F(HandlerTest, AllianceIdsRejectsAnObject) {
  auto r = Parse("alliance_ids", 0, R"({"error": "x"})");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("expected a JSON array"));
}

TEST_F(HandlerTest, AllianceRequestsItsDetailPath) {
  EXPECT_EQ(Make("alliance")->BuildRequest(MakeTask("alliance", 99005338)).url,
            "http://esi.test/latest/alliances/99005338/");
}

TEST_F(HandlerTest, AllianceParsesRecordAndDiscoversExecutorUnforced) {
  auto r = Parse("alliance", 99005338, kAllianceBody);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->records.size(), 1u);
  const auto& a = r->records[0].alliance();
  EXPECT_EQ(a.alliance_id(), 99005338);
  EXPECT_EQ(a.name(), "Pandemic Horde");
  EXPECT_EQ(a.ticker(), "REKTD");
  EXPECT_EQ(a.creator_id(), 2114327893);
  EXPECT_EQ(a.creator_corporation_id(), 98388312);
  EXPECT_EQ(a.executor_corporation_id(), 98388312);
  EXPECT_EQ(a.faction_id(), 0);
  EXPECT_EQ(a.date_founded().seconds(), 1433529983);  // 2015-06-05T18:46:23Z
  ASSERT_EQ(r->discovered.size(), 1u);
  EXPECT_EQ(r->discovered[0].kind(), "corporation");
  EXPECT_THAT(Ids(r->discovered[0]), ElementsAre(98388312));
  EXPECT_FALSE(r->discovered[0].force());
}

TEST_F(HandlerTest, AllianceWithFactionAndNoExecutor) {
  auto r = Parse("alliance", 1, R"({"creator_corporation_id": 5, "creator_id": 90000001,
      "date_founded": "2010-11-04T13:11:00Z", "faction_id": 500001, "name": "Closed",
      "ticker": "CLSD"})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->records[0].alliance().faction_id(), 500001);
  EXPECT_EQ(r->records[0].alliance().executor_corporation_id(), 0);
  EXPECT_THAT(r->discovered, IsEmpty());
}

TEST_F(HandlerTest, AllianceMissingTickerFailsNamingTheField) {
  auto r = Parse("alliance", 99005338, R"({"creator_corporation_id": 1, "creator_id": 2,
      "date_founded": "2015-06-05T18:46:23Z", "name": "No Ticker"})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(std::string(r.status().message()), "alliance 99005338: field 'ticker' is missing");
}

TEST_F(HandlerTest, AllianceUnparseableDateFails) {
  auto r = Parse("alliance", 99005338, R"({"creator_corporation_id": 1, "creator_id": 2,
      "date_founded": "yesterday", "name": "N", "ticker": "T"})");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("'date_founded'"));
}

TEST_F(HandlerTest, AllianceCorporationsDiscoversMembersForced) {
  auto h = Make("alliance_corporations");
  EXPECT_EQ(h->BuildRequest(MakeTask("alliance_corporations", 99005338)).url,
            "http://esi.test/latest/alliances/99005338/corporations/");
  auto r = h->Parse(MakeTask("alliance_corporations", 99005338),
                    JsonResponse(200, "[98388312, 98000001]"));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->discovered.size(), 1u);
  EXPECT_EQ(r->discovered[0].kind(), "corporation");
  EXPECT_THAT(Ids(r->discovered[0]), ElementsAre(98388312, 98000001));
  EXPECT_TRUE(r->discovered[0].force());
}

TEST_F(HandlerTest, CorporationDiscoversCeoAndAlliance) {
  auto r = Parse("corporation", 98388312, kCorporationBody);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->records.size(), 1u);
  const auto& c = r->records[0].corporation();
  EXPECT_EQ(c.corporation_id(), 98388312);
  EXPECT_EQ(c.name(), "Pandemic Horde Inc.");
  EXPECT_EQ(c.ticker(), "REKTD");
  EXPECT_EQ(c.member_count(), 12345);
  EXPECT_EQ(c.ceo_id(), 2114327893);
  EXPECT_EQ(c.creator_id(), 95465499);
  EXPECT_EQ(c.alliance_id(), 99005338);
  EXPECT_DOUBLE_EQ(c.tax_rate(), 0.1);
  EXPECT_EQ(c.date_founded().seconds(), 1433529661);
  EXPECT_EQ(c.faction_id(), 0);

  const auto* characters = FindDiscovered(*r, "character");
  ASSERT_NE(characters, nullptr);
  EXPECT_THAT(Ids(*characters), UnorderedElementsAre(2114327893, 95465499));
  EXPECT_FALSE(characters->force());
  const auto* alliance = FindDiscovered(*r, "alliance");
  ASSERT_NE(alliance, nullptr);
  EXPECT_THAT(Ids(*alliance), ElementsAre(99005338));
  EXPECT_FALSE(alliance->force());
  EXPECT_EQ(FindDiscovered(*r, "corporation_members"), nullptr) << "no ESI token configured";
}

TEST_F(HandlerTest, CorporationSkipsNpcAndSystemCharacters) {
  auto r = Parse("corporation", 1000167, kNpcCorporationBody);
  ASSERT_TRUE(r.ok()) << r.status();
  const auto& c = r->records[0].corporation();
  EXPECT_EQ(c.alliance_id(), 0);
  EXPECT_EQ(c.faction_id(), 500001);
  EXPECT_FALSE(c.has_date_founded());
  EXPECT_EQ(FindDiscovered(*r, "character"), nullptr);
  EXPECT_EQ(FindDiscovered(*r, "alliance"), nullptr);
}

TEST_F(HandlerTest, CorporationDeduplicatesCeoWhoIsAlsoCreator) {
  auto r = Parse("corporation", 98000001, R"({"ceo_id": 95000001, "creator_id": 95000001,
      "member_count": 1, "name": "Solo", "tax_rate": 0.0, "ticker": "SOLO"})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(Ids(*FindDiscovered(*r, "character")), ElementsAre(95000001));
}

TEST_F(HandlerTest, CorporationDiscoversMemberListOnlyWithEsiToken) {
  auto r = Parse("corporation", 98388312, kCorporationBody, "sso-token");
  ASSERT_TRUE(r.ok()) << r.status();
  const auto* members = FindDiscovered(*r, "corporation_members");
  ASSERT_NE(members, nullptr);
  EXPECT_THAT(Ids(*members), ElementsAre(98388312));
  EXPECT_TRUE(members->force());
}

TEST_F(HandlerTest, CorporationMistypedFieldFails) {
  auto r = Parse("corporation", 98388312, R"({"ceo_id": 95000001, "creator_id": 95000001,
      "member_count": "many", "name": "N", "tax_rate": 0.1, "ticker": "T"})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(std::string(r.status().message()),
            "corporation 98388312: field 'member_count' is string, expected an integer");
}

TEST_F(HandlerTest, CorporationMembersSendsBearerAndDiscoversCharactersUnforced) {
  auto h = Make("corporation_members", "sso-token");
  UpstreamRequest req = h->BuildRequest(MakeTask("corporation_members", 98388312));
  EXPECT_EQ(req.url, "http://esi.test/latest/corporations/98388312/members/");
  EXPECT_THAT(req.headers, ElementsAre(std::make_pair(std::string("Authorization"),
                                                      std::string("Bearer sso-token"))));
  auto r = h->Parse(MakeTask("corporation_members", 98388312),
                    JsonResponse(200, "[95000001, 95000002]"));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->discovered.size(), 1u);
  EXPECT_EQ(r->discovered[0].kind(), "character");
  EXPECT_THAT(Ids(r->discovered[0]), ElementsAre(95000001, 95000002));
  EXPECT_FALSE(r->discovered[0].force());
}

TEST_F(HandlerTest, CharacterParsesRecordAndDiscoversCorporationAndAlliance) {
  auto h = Make("character");
  EXPECT_EQ(h->BuildRequest(MakeTask("character", 95465499)).url,
            "http://esi.test/latest/characters/95465499/");
  auto r = Parse("character", 95465499, kCharacterBody);
  ASSERT_TRUE(r.ok()) << r.status();
  const auto& c = r->records[0].character();
  EXPECT_EQ(c.character_id(), 95465499);
  EXPECT_EQ(c.name(), "Some Pilot");
  EXPECT_EQ(c.birthday().seconds(), 1368885528);
  EXPECT_EQ(c.gender(), "male");
  EXPECT_EQ(c.race_id(), 2);
  EXPECT_EQ(c.bloodline_id(), 4);
  EXPECT_EQ(c.corporation_id(), 98388312);
  EXPECT_EQ(c.alliance_id(), 99005338);
  EXPECT_DOUBLE_EQ(c.security_status(), -1.2345);
  const auto* corp = FindDiscovered(*r, "corporation");
  ASSERT_NE(corp, nullptr);
  EXPECT_THAT(Ids(*corp), ElementsAre(98388312));
  EXPECT_FALSE(corp->force());
  const auto* alliance = FindDiscovered(*r, "alliance");
  ASSERT_NE(alliance, nullptr);
  EXPECT_THAT(Ids(*alliance), ElementsAre(99005338));
}

TEST_F(HandlerTest, CharacterWithoutAllianceDiscoversOnlyCorporation) {
  auto r = Parse("character", 95465499, R"({"birthday": "2013-05-18T13:58:48Z",
      "bloodline_id": 4, "corporation_id": 1000167, "gender": "female", "name": "Newbie",
      "race_id": 2})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->records[0].character().alliance_id(), 0);
  EXPECT_DOUBLE_EQ(r->records[0].character().security_status(), 0.0);
  ASSERT_EQ(r->discovered.size(), 1u);
  EXPECT_EQ(r->discovered[0].kind(), "corporation");
}

TEST_F(HandlerTest, CharacterMissingCorporationFails) {
  auto r = Parse("character", 95465499, R"({"birthday": "2013-05-18T13:58:48Z",
      "bloodline_id": 4, "gender": "female", "name": "Newbie", "race_id": 2})");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("'corporation_id' is missing"));
}

// The whole pipeline for a handler: body -> outcome the coordinator sees.
TEST_F(HandlerTest, MalformedJsonBecomesTransientFailure) {
  auto h = Make("corporation");
  auto task = MakeTask("corporation", 98388312);
  TaskOutcome out = DecideOutcome(*h, task, "agent-1", JsonResponse(200, R"({"name": "trunc)"),
                                  SystemClock::Get()->Now());
  EXPECT_EQ(out.cls, OutcomeClass::kBadBody);
  EXPECT_FALSE(out.fail.permanent());
  EXPECT_EQ(out.fail.task_id(), 7);
  EXPECT_EQ(out.fail.fencing_token(), 42);
  EXPECT_THAT(out.fail.error(), HasSubstr("corporation 98388312: malformed JSON"));
}

TEST_F(HandlerTest, AnAnswerMissingARequiredFieldIsPoisonAtOnce) {
  auto h = Make("corporation");
  TaskOutcome out = DecideOutcome(*h, MakeTask("corporation", 98388312), "agent-1",
                                  JsonResponse(200, R"({"name": "No Ticker", "member_count": 3})"),
                                  SystemClock::Get()->Now());
  EXPECT_EQ(out.cls, OutcomeClass::kBadBody);
  EXPECT_TRUE(out.fail.permanent());
  EXPECT_THAT(out.fail.error(), HasSubstr("is missing"));
}

TEST_F(HandlerTest, NotModifiedCompletesWithoutRecords) {
  auto h = Make("character");
  auto task = MakeTask("character", 95465499, "\"abc\"");
  HttpResponse r;
  r.status = 304;
  r.headers.Add("Expires", "Sun, 23 Nov 2026 04:00:00 GMT");
  TaskOutcome out = DecideOutcome(*h, task, "agent-1", r, SystemClock::Get()->Now());
  ASSERT_TRUE(out.is_complete());
  EXPECT_TRUE(out.complete.not_modified());
  EXPECT_EQ(out.complete.records_size(), 0);
  EXPECT_EQ(out.complete.discovered_size(), 0);
  EXPECT_EQ(out.complete.etag(), "\"abc\"") << "a 304 keeps the validated ETag";
}

TEST_F(HandlerTest, NotFoundIsGoneWithItsStatus) {
  auto h = Make("alliance");
  TaskOutcome out = DecideOutcome(*h, MakeTask("alliance", 1), "agent-1",
                                  JsonResponse(404, R"({"error": "Alliance not found"})"),
                                  SystemClock::Get()->Now());
  EXPECT_EQ(out.cls, OutcomeClass::kGone);
  EXPECT_EQ(out.fail.http_status(), 404);
  EXPECT_THAT(out.fail.error(), HasSubstr("Alliance not found"));
}

TEST(Iso8601Test, ParsesEsiDates) {
  EXPECT_EQ(ToUnixSeconds(*esi::ParseIso8601("2027-01-15T08:00:00Z")), 1800000000);
  EXPECT_EQ(ToUnixSeconds(*esi::ParseIso8601("2027-01-15T09:00:00+01:00")), 1800000000);
  EXPECT_DOUBLE_EQ(ToUnixSeconds(*esi::ParseIso8601("2027-01-15T08:00:00.5Z")), 1800000000.5);
  EXPECT_FALSE(esi::ParseIso8601("2027-01-15").has_value());
  EXPECT_FALSE(esi::ParseIso8601("soon").has_value());
}

TEST(EsiJsonTest, JoinUrlDropsTrailingSlashesOfTheBase) {
  EXPECT_EQ(esi::JoinUrl("http://h:1/", "/alliances/"), "http://h:1/alliances/");
  EXPECT_EQ(esi::JoinUrl("http://h:1/latest//", "/x/"), "http://h:1/latest/x/");
  EXPECT_EQ(esi::JoinUrl("http://h:1", "/x/"), "http://h:1/x/");
}

TEST(EsiJsonTest, ABodyWithANulByteIsNotJson) {
  // nlohmann's parser would stop at the NUL and accept what came before.
  auto parsed = esi::ParseJson(std::string("{\"a\": 1}\0garbage", 15), "thing 1");
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("NUL byte at offset 8"));
}

TEST(EsiJsonTest, ABodyNestedDeeperThanAnyAnswerIsRefusedBeforeParsing) {
  EXPECT_TRUE(esi::ParseJson(std::string(256, '[') + std::string(256, ']'), "x").ok());
  auto deep = esi::ParseJson(std::string(257, '[') + std::string(257, ']'), "thing 1");
  EXPECT_EQ(deep.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(deep.status().message()), HasSubstr("nested deeper than 256"));
  // Brackets inside strings (escaped quotes too) do not count.
  const std::string in_string = "[\"" + std::string(300, '[') + "\\\"" + "\"]";
  EXPECT_TRUE(esi::ParseJson(in_string, "x").ok()) << esi::ParseJson(in_string, "x").status();
}

TEST(EsiJsonTest, AddDiscoveredDropsNonPositiveAndDuplicateIds) {
  HandlerResult r;
  esi::AddDiscovered(&r, "corporation", {0, -5, 3, 3, 4}, false);
  ASSERT_EQ(r.discovered.size(), 1u);
  EXPECT_THAT(std::vector<int64_t>(r.discovered[0].ids().begin(), r.discovered[0].ids().end()),
              ElementsAre(3, 4));
  HandlerResult none;
  esi::AddDiscovered(&none, "corporation", {0}, false);
  EXPECT_THAT(none.discovered, IsEmpty());
}

TEST(UnpackContextTest, ReturnsTheContextOfTheExpectedType) {
  sluice::v1::Task task = MakeTask("killmail", 42);
  sluice::v1::KillmailContext context;
  context.set_killmail_hash("abc");
  task.mutable_context()->PackFrom(context);
  auto unpacked = UnpackContext<sluice::v1::KillmailContext>(task, "killmail 42");
  ASSERT_TRUE(unpacked.ok()) << unpacked.status();
  EXPECT_EQ(unpacked->killmail_hash(), "abc");
}

TEST(UnpackContextTest, AMissingContextIsAnErrorOnlyWhenRequired) {
  sluice::v1::Task task = MakeTask("killmail", 42);
  auto required = UnpackContext<sluice::v1::KillmailContext>(task, "killmail 42");
  EXPECT_EQ(required.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(required.status().message(),
              HasSubstr("killmail 42: the task carries no context, expected "
                        "sluice.v1.KillmailContext"));
  auto optional =
      UnpackContext<sluice::v1::ContractRegionContext>(task, "region", /*required=*/false);
  ASSERT_TRUE(optional.ok()) << optional.status();
  EXPECT_EQ(optional->pages_size(), 0);
}

TEST(UnpackContextTest, AContextOfAnotherTypeNamesBothTypes) {
  sluice::v1::Task task = MakeTask("killmail", 42);
  task.mutable_context()->PackFrom(sluice::v1::PoeStreamContext());
  for (bool required : {true, false}) {
    auto unpacked = UnpackContext<sluice::v1::KillmailContext>(task, "killmail 42", required);
    EXPECT_EQ(unpacked.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(unpacked.status().message(), HasSubstr("killmail 42: the task's context is "
                                                       "'type.googleapis.com/"
                                                       "sluice.v1.PoeStreamContext', expected "
                                                       "sluice.v1.KillmailContext"));
  }
}

TEST(UnpackContextTest, AContextThatDoesNotParseIsNamed) {
  sluice::v1::Task task = MakeTask("killmail", 42);
  task.mutable_context()->PackFrom(sluice::v1::KillmailContext());
  task.mutable_context()->set_value("\xff\xff\xff");
  auto unpacked = UnpackContext<sluice::v1::KillmailContext>(task, "killmail 42");
  EXPECT_EQ(unpacked.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(unpacked.status().message(), HasSubstr("does not parse"));
}

// Multi-request kinds whose context is wrong fail before calling upstream.
class NoFetcher final : public Fetcher {
 public:
  absl::StatusOr<HttpResponse> Fetch(const UpstreamRequest& request) override {
    ADD_FAILURE() << "unexpected upstream call " << request.url;
    return absl::InternalError("no upstream here");
  }
};

TEST_F(HandlerTest, WorkflowKindsNameAMissingOrWrongContext) {
  NoFetcher fetcher;
  for (const char* kind : {"killmail", "character_killmails"}) {
    auto run = Make(kind)->Run(MakeTask(kind, 42), fetcher);
    EXPECT_EQ(run.status().code(), absl::StatusCode::kInvalidArgument) << kind;
    EXPECT_THAT(run.status().message(), HasSubstr("the task carries no context")) << kind;
  }
  sluice::v1::Task region = MakeTask("contracts_region", 10000002);
  region.mutable_context()->PackFrom(sluice::v1::KillmailContext());
  auto run = Make("contracts_region")->Run(region, fetcher);
  EXPECT_EQ(run.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(run.status().message(),
              HasSubstr("contracts_region 10000002: the task's context is"));
  EXPECT_THAT(run.status().message(), HasSubstr("expected sluice.v1.ContractRegionContext"));
}

}  // namespace
}  // namespace sluice::agent
