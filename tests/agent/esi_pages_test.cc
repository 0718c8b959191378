// ESI's paged lists read under its cache rules (agent/handlers/esi_pages.h),
// through the two paged kinds and the core's outcome: pages from two versions
// of a list are read again from page 1 once page 1 may be asked for again,
// else the task fails as retryable (never as a poison body); and a paged
// task is never asked for again before the latest Expires its pages carried.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <deque>

#include "agent/core/outcome.h"
#include "agent/handlers/all_handlers.h"
#include "agent/handlers/esi_pages.h"
#include "common/http_date.h"
#include "common/time_util.h"
#include "sluice/v1/contracts.pb.h"
#include "sluice/v1/killmails.pb.h"
#include "tests/agent/fakes.h"

namespace sluice::agent {
namespace {

using ::testing::HasSubstr;
using testing::JsonResponse;

constexpr char kEsi[] = "http://esi.test/latest";
const TimePoint kNow = FromUnixSeconds(1796515700);  // Sun, 06 Dec 2026 00:08:20 GMT

// Two versions of one list: v1 built 00:06:40 and cached until 00:08:20,
// v2 built 00:08:20 and cached until 00:13:20.
constexpr char kV1Built[] = "Sun, 06 Dec 2026 00:06:40 GMT";
constexpr char kV1Expires[] = "Sun, 06 Dec 2026 00:08:20 GMT";
constexpr char kV2Built[] = "Sun, 06 Dec 2026 00:08:20 GMT";
constexpr char kV2Expires[] = "Sun, 06 Dec 2026 00:13:20 GMT";

// Answers in order and records what was asked for.
class ScriptedFetcher final : public Fetcher {
 public:
  explicit ScriptedFetcher(std::deque<HttpResponse> answers) : answers_(std::move(answers)) {}
  absl::StatusOr<HttpResponse> Fetch(const UpstreamRequest& request) override {
    urls.push_back(request.url);
    if (answers_.empty()) return absl::UnavailableError("no more answers");
    HttpResponse r = std::move(answers_.front());
    answers_.pop_front();
    if (auto expires = r.headers.GetDate("Expires")) {
      if (!latest_expires || *expires > *latest_expires) latest_expires = expires;
    }
    return r;
  }
  std::vector<std::string> urls;
  std::optional<TimePoint> latest_expires;  // as the agent's fetcher keeps it

 private:
  std::deque<HttpResponse> answers_;
};

// A page of killmail refs from one version of the list; `date` is when it
// was answered.
HttpResponse KillmailPage(std::vector<int64_t> ids, int pages, const char* built,
                          const char* expires, const char* date) {
  std::string body = "[";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) body += ",";
    body += "{\"killmail_hash\":\"h" + std::to_string(ids[i]) +
            "\",\"killmail_id\":" + std::to_string(ids[i]) + "}";
  }
  body += "]";
  return JsonResponse(200, body,
                      {{"X-Pages", std::to_string(pages)},
                       {"Last-Modified", built},
                       {"Expires", expires},
                       {"Date", date}});
}

class EsiPagesTest : public ::testing::Test {
 protected:
  std::unique_ptr<Handler> Make(const std::string& kind) {
    HandlerConfig config;
    config.esi_base_url = kEsi;
    const HandlerSpec* spec = registry_.Find(kind);
    EXPECT_NE(spec, nullptr) << kind;
    return spec->factory(config);
  }

  static v1::Task KillmailsTask(int64_t character) {
    v1::Task t;
    t.set_task_id(7);
    t.set_kind("character_killmails");
    t.set_entity_id(character);
    t.set_fencing_token(42);
    v1::CharacterKillmailsContext ctx;
    ctx.set_access_token("token");
    t.mutable_context()->PackFrom(ctx);
    return t;
  }

  TaskOutcome Run(const std::string& kind, const v1::Task& task, ScriptedFetcher& fetcher) {
    std::unique_ptr<Handler> handler = Make(kind);
    absl::StatusOr<HandlerResult> run = handler->Run(task, fetcher);
    return DecideRunOutcome(*handler, task, "agent-1", run, FetchFailure::kNone,
                            fetcher.latest_expires, kNow);
  }

  const HandlerRegistry registry_ = DefaultHandlerRegistry();
};

TEST_F(EsiPagesTest, PagesFromOneVersionCompleteWithTheirExpires) {
  ScriptedFetcher fetcher({KillmailPage({30, 29}, 2, kV2Built, kV2Expires, kV2Built),
                           KillmailPage({28, 27}, 2, kV2Built, kV2Expires, kV2Built)});
  TaskOutcome out = Run("character_killmails", KillmailsTask(90000001), fetcher);
  ASSERT_EQ(out.cls, OutcomeClass::kCompleted) << out.fail.error();
  EXPECT_EQ(fetcher.urls.size(), 2u);
  EXPECT_EQ(FromProto(out.complete.expires()), FromUnixSeconds(1796516000));
  v1::CharacterKillmailsResult result;
  ASSERT_TRUE(out.complete.payload().UnpackTo(&result));
  EXPECT_EQ(result.refs_size(), 4);
}

TEST_F(EsiPagesTest, AListThatChangedMidReadIsReadAgainFromPageOne) {
  // Page 1 of v1, then page 2 of v2 (page 1's cache expired in between);
  // the second read is all v2.
  ScriptedFetcher fetcher({KillmailPage({30, 29}, 2, kV1Built, kV1Expires, kV1Built),
                           KillmailPage({29, 28}, 2, kV2Built, kV2Expires, kV2Built),
                           KillmailPage({31, 30}, 2, kV2Built, kV2Expires, kV2Built),
                           KillmailPage({29, 28}, 2, kV2Built, kV2Expires, kV2Built)});
  TaskOutcome out = Run("character_killmails", KillmailsTask(90000001), fetcher);
  ASSERT_EQ(out.cls, OutcomeClass::kCompleted) << out.fail.error();
  ASSERT_EQ(fetcher.urls.size(), 4u);
  EXPECT_THAT(fetcher.urls[2], HasSubstr("?page=1"));
  v1::CharacterKillmailsResult result;
  ASSERT_TRUE(out.complete.payload().UnpackTo(&result));
  std::vector<int64_t> ids;
  for (const auto& r : result.refs()) ids.push_back(r.killmail_id());
  EXPECT_EQ(ids, (std::vector<int64_t>{31, 30, 29, 28}));  // nothing of v1
  EXPECT_EQ(FromProto(out.complete.expires()), FromUnixSeconds(1796516000));
}

TEST_F(EsiPagesTest, AListThatChangesTwiceFailsAsRetryableAfterEveryPagesExpires) {
  constexpr char kV3Built[] = "Sun, 06 Dec 2026 00:13:20 GMT";
  constexpr char kV3Expires[] = "Sun, 06 Dec 2026 00:18:20 GMT";
  ScriptedFetcher fetcher({KillmailPage({30, 29}, 2, kV1Built, kV1Expires, kV1Built),
                           KillmailPage({29, 28}, 2, kV2Built, kV2Expires, kV2Built),
                           KillmailPage({31, 30}, 2, kV2Built, kV2Expires, kV2Built),
                           KillmailPage({30, 29}, 2, kV3Built, kV3Expires, kV3Built)});
  TaskOutcome out = Run("character_killmails", KillmailsTask(90000001), fetcher);
  EXPECT_EQ(out.cls, OutcomeClass::kInconsistent);
  EXPECT_EQ(fetcher.urls.size(), 4u);
  EXPECT_FALSE(out.fail.permanent());
  EXPECT_EQ(out.fail.http_status(), 0);
  EXPECT_THAT(out.fail.error(), HasSubstr("inconsistent paged read"));
  EXPECT_THAT(out.fail.error(), HasSubstr("read twice"));
  // Not before the latest page's Expires (00:18:20, ten minutes on).
  EXPECT_EQ(FromProtoDuration(out.fail.retry_after()), std::chrono::seconds(600));
}

TEST_F(EsiPagesTest, PageOneIsNotAskedForAgainBeforeItsOwnExpires) {
  // Page 2 disagrees while page 1's Expires (00:13:20) is still ahead by
  // page 2's Date: asking for page 1 again would circumvent the cache.
  ScriptedFetcher fetcher({KillmailPage({30, 29}, 2, kV2Built, kV2Expires, kV2Built),
                           KillmailPage({29, 28}, 2, kV1Built, kV1Expires, kV2Built)});
  TaskOutcome out = Run("character_killmails", KillmailsTask(90000001), fetcher);
  EXPECT_EQ(out.cls, OutcomeClass::kInconsistent);
  EXPECT_EQ(fetcher.urls.size(), 2u);
  EXPECT_EQ(FromProtoDuration(out.fail.retry_after()), std::chrono::seconds(300));
}

TEST_F(EsiPagesTest, ARegionReadAcrossTwoVersionsIsReadAgain) {
  auto page = [](const char* built, const char* expires, int64_t id) {
    return JsonResponse(
        200,
        "[{\"contract_id\":" + std::to_string(id) +
            ",\"type\":\"courier\",\"issuer_id\":1,\"issuer_corporation_id\":2,"
            "\"date_issued\":\"2026-12-01T00:00:00Z\",\"date_expired\":\"2026-12-20T00:00:00Z\"}]",
        {{"X-Pages", "2"}, {"Last-Modified", built}, {"Expires", expires}, {"Date", built}});
  };
  ScriptedFetcher fetcher({page(kV1Built, kV1Expires, 1), page(kV2Built, kV2Expires, 3),
                           page(kV2Built, kV2Expires, 2), page(kV2Built, kV2Expires, 3)});
  v1::Task task;
  task.set_task_id(8);
  task.set_kind("contracts_region");
  task.set_entity_id(10000002);
  TaskOutcome out = Run("contracts_region", task, fetcher);
  ASSERT_EQ(out.cls, OutcomeClass::kCompleted) << out.fail.error();
  v1::ContractRegionResult result;
  ASSERT_TRUE(out.complete.payload().UnpackTo(&result));
  ASSERT_EQ(result.contracts_size(), 2);
  EXPECT_EQ(result.contracts(0).contract_id(), 2);  // page 1 of the second read
  EXPECT_EQ(result.contracts(1).contract_id(), 3);
}

TEST_F(EsiPagesTest, AReadStoppedByARateLimitWaitsForThePagesAlreadyRead) {
  ScriptedFetcher fetcher({KillmailPage({30, 29}, 2, kV2Built, kV2Expires, kV2Built),
                           JsonResponse(429, "{\"error\":\"slow down\"}", {{"Retry-After", "7"}})});
  TaskOutcome out = Run("character_killmails", KillmailsTask(90000001), fetcher);
  EXPECT_EQ(out.cls, OutcomeClass::kRateLimited);
  // Page 1 may not be asked for again before 00:13:20: longer than Retry-After.
  EXPECT_EQ(FromProtoDuration(out.fail.retry_after()), std::chrono::seconds(300));
}

TEST_F(EsiPagesTest, AWaitBeyondADayIsCappedAtWhatTheQueueAccepts) {
  // A killmail body is cached for a month; a failure after it still waits
  // at most a day (kMaxRetryAfter), the longest retry_after the queue takes.
  ScriptedFetcher fetcher(
      {KillmailPage({30}, 2, kV2Built, "Tue, 05 Jan 2027 00:08:20 GMT", kV2Built),
       JsonResponse(503, "{\"error\":\"down\"}")});
  TaskOutcome out = Run("character_killmails", KillmailsTask(90000001), fetcher);
  EXPECT_EQ(out.cls, OutcomeClass::kServerError);
  EXPECT_EQ(FromProtoDuration(out.fail.retry_after()), kMaxRetryAfter);
}

}  // namespace
}  // namespace sluice::agent
