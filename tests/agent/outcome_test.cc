// The status -> outcome table every handler shares.
#include "agent/core/outcome.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/time_util.h"
#include "tests/agent/fakes.h"

namespace sluice::agent {
namespace {

using ::testing::HasSubstr;
using testing::JsonResponse;

// Parses any body into one discovered id list, or fails on "bad" (a schema
// break) and "trunc" (not JSON at all).
class StubHandler final : public Handler {
 public:
  explicit StubHandler(bool skips_poison = true) : skips_poison_(skips_poison) {}
  bool skips_poison() const override { return skips_poison_; }
  UpstreamRequest BuildRequest(const sluice::v1::Task&) const override { return {"u", {}}; }
  absl::StatusOr<HandlerResult> Parse(const sluice::v1::Task&,
                                      const HttpResponse& r) const override {
    if (r.body == "bad") return absl::InvalidArgumentError("thing 1: field 'x' is missing");
    if (r.body == "trunc") return absl::DataLossError("thing 1: malformed JSON body");
    HandlerResult out;
    sluice::v1::Discovered d;
    d.set_kind("corporation");
    d.add_ids(5);
    out.discovered.push_back(d);
    sluice::v1::EntityRecord rec;
    rec.mutable_alliance()->set_alliance_id(1);
    out.records.push_back(rec);
    return out;
  }

 private:
  const bool skips_poison_;
};

class OutcomeTest : public ::testing::Test {
 protected:
  OutcomeTest() {
    task_.set_task_id(3);
    task_.set_kind("alliance");
    task_.set_entity_id(1);
    task_.set_fencing_token(99);
    task_.set_etag("\"old\"");
  }
  TaskOutcome Decide(const absl::StatusOr<HttpResponse>& r) {
    return DecideOutcome(handler_, task_, "agent-9", r, now_);
  }
  StubHandler handler_;
  sluice::v1::Task task_;
  TimePoint now_ = FromUnixSeconds(1800000000);
};

TEST_F(OutcomeTest, OkCompletesWithRecordsDiscoveredEtagAndExpires) {
  auto out = Decide(
      JsonResponse(200, "{}", {{"ETag", "\"new\""}, {"Expires", "Fri, 15 Jan 2027 08:00:00 GMT"}}));
  ASSERT_EQ(out.cls, OutcomeClass::kCompleted);
  EXPECT_EQ(out.complete.task_id(), 3);
  EXPECT_EQ(out.complete.fencing_token(), 99);
  EXPECT_EQ(out.complete.agent_id(), "agent-9");
  EXPECT_FALSE(out.complete.not_modified());
  EXPECT_EQ(out.complete.etag(), "\"new\"");
  EXPECT_EQ(out.complete.expires().seconds(), 1800000000);  // 2027-01-15T08:00:00Z
  EXPECT_EQ(out.complete.records_size(), 1);
  EXPECT_EQ(out.complete.discovered_size(), 1);
}

TEST_F(OutcomeTest, OkWithoutValidatorsLeavesEtagAndExpiresUnset) {
  auto out = Decide(JsonResponse(200, "{}"));
  ASSERT_EQ(out.cls, OutcomeClass::kCompleted);
  EXPECT_EQ(out.complete.etag(), "");
  EXPECT_FALSE(out.complete.has_expires());
}

TEST_F(OutcomeTest, NotModifiedCompletesWithoutRecordsAndNewEtag) {
  HttpResponse r;
  r.status = 304;
  r.headers.Add("etag", "\"same\"");
  auto out = Decide(r);
  ASSERT_EQ(out.cls, OutcomeClass::kNotModified);
  EXPECT_TRUE(out.complete.not_modified());
  EXPECT_EQ(out.complete.records_size(), 0);
  EXPECT_EQ(out.complete.etag(), "\"same\"");
}

TEST_F(OutcomeTest, ABodyThatBreaksTheSchemaFailsPermanentlyWithTheHandlersMessage) {
  auto out = Decide(JsonResponse(200, "bad"));
  ASSERT_EQ(out.cls, OutcomeClass::kBadBody);
  EXPECT_TRUE(out.fail.permanent()) << "the next fetch would answer the same";
  EXPECT_EQ(out.fail.error(), "thing 1: field 'x' is missing");
  EXPECT_EQ(out.fail.http_status(), 200);
}

TEST_F(OutcomeTest, ABodyThatIsNotJsonFailsTransientKeepingItsStatusForTheQueue) {
  // Truncated in transit, most likely: the queue's RetryPolicy fetches it
  // once more (it sees the 2xx), then gives up.
  auto out = Decide(JsonResponse(200, "trunc"));
  ASSERT_EQ(out.cls, OutcomeClass::kBadBody);
  EXPECT_FALSE(out.fail.permanent());
  EXPECT_EQ(out.fail.http_status(), 200);
  EXPECT_THAT(out.fail.error(), HasSubstr("malformed JSON"));
}

TEST_F(OutcomeTest, AKindThatCannotSkipAnEntityRetriesASchemaBreak) {
  StubHandler stream_like(/*skips_poison=*/false);
  auto out = DecideOutcome(stream_like, task_, "agent-9", JsonResponse(200, "bad"), now_);
  ASSERT_EQ(out.cls, OutcomeClass::kBadBody);
  EXPECT_FALSE(out.fail.permanent());
}

TEST_F(OutcomeTest, NotFoundAndGoneAreReportedWithTheirStatusForTheQueueToDecide) {
  // The queue's RetryPolicy dead-letters 404/410 at once; the agent only
  // reports what happened.
  for (int status : {404, 410}) {
    auto out = Decide(JsonResponse(status, R"({"error":"not found"})"));
    EXPECT_EQ(out.cls, OutcomeClass::kGone);
    EXPECT_FALSE(out.fail.permanent());
    EXPECT_EQ(out.fail.http_status(), status);
    EXPECT_EQ(out.fail.task_id(), 3);
    EXPECT_EQ(out.fail.fencing_token(), 99);
  }
}

TEST_F(OutcomeTest, OtherClientErrorsAreTransientSoTheCoordinatorClassifies) {
  for (int status : {400, 401, 403}) {
    auto out = Decide(JsonResponse(status, R"({"error":"nope"})"));
    EXPECT_EQ(out.cls, OutcomeClass::kClientError) << status;
    EXPECT_FALSE(out.fail.permanent()) << status;
    EXPECT_EQ(out.fail.http_status(), status);
    EXPECT_THAT(out.fail.error(), HasSubstr("alliance 1: HTTP " + std::to_string(status)));
  }
}

TEST_F(OutcomeTest, TooManyRequestsCarriesRetryAfter) {
  auto out = Decide(JsonResponse(429, "", {{"Retry-After", "17"}}));
  ASSERT_EQ(out.cls, OutcomeClass::kRateLimited);
  EXPECT_FALSE(out.fail.permanent());
  EXPECT_EQ(out.fail.http_status(), 429);
  EXPECT_EQ(out.fail.retry_after().seconds(), 17);
}

TEST_F(OutcomeTest, RetryAfterMayBeAnHttpDate) {
  // now_ + 90 s.
  auto out = Decide(JsonResponse(429, "", {{"Retry-After", "Fri, 15 Jan 2027 08:01:30 GMT"}}));
  EXPECT_EQ(out.fail.retry_after().seconds(), 90);
}

TEST_F(OutcomeTest, EsiErrorLimitUsesTheLaterOfResetAndRetryAfter) {
  auto out = Decide(JsonResponse(420, R"({"error":"error limited"})",
                                 {{"X-ESI-Error-Limit-Remain", "0"},
                                  {"X-ESI-Error-Limit-Reset", "41"},
                                  {"Retry-After", "5"}}));
  ASSERT_EQ(out.cls, OutcomeClass::kRateLimited);
  EXPECT_EQ(out.fail.retry_after().seconds(), 41);
  EXPECT_EQ(out.fail.http_status(), 420);
}

TEST_F(OutcomeTest, RateLimitWithoutHeadersRetriesWithoutHint) {
  auto out = Decide(JsonResponse(429, ""));
  EXPECT_EQ(out.fail.retry_after().seconds(), 0);
}

TEST_F(OutcomeTest, ServerErrorsAreTransientWithoutRetryHint) {
  for (int status : {500, 502, 503, 504}) {
    auto out = Decide(JsonResponse(status, "upstream broke", {{"Retry-After", "30"}}));
    EXPECT_EQ(out.cls, OutcomeClass::kServerError);
    EXPECT_FALSE(out.fail.permanent());
    EXPECT_EQ(out.fail.retry_after().seconds(), 0);
    EXPECT_EQ(out.fail.http_status(), status);
  }
}

TEST_F(OutcomeTest, RedirectIsNotFollowedAndSaysWhere) {
  auto out = Decide(JsonResponse(301, "", {{"Location", "https://elsewhere/"}}));
  EXPECT_EQ(out.cls, OutcomeClass::kServerError);
  EXPECT_THAT(out.fail.error(), HasSubstr("https://elsewhere/"));
}

TEST_F(OutcomeTest, TransportErrorIsTransientWithStatusZero) {
  auto out = Decide(absl::DeadlineExceededError("GET u: Operation timed out"));
  EXPECT_EQ(out.cls, OutcomeClass::kTransportError);
  EXPECT_FALSE(out.fail.permanent());
  EXPECT_EQ(out.fail.http_status(), 0);
  EXPECT_THAT(out.fail.error(), HasSubstr("timed out"));
}

TEST_F(OutcomeTest, ErrorTextIsValidUtf8AndBounded) {
  std::string body = "\xff\xfe binary";
  body += std::string(5000, 'x');
  auto out = Decide(JsonResponse(500, body));
  EXPECT_THAT(out.fail.error(), HasSubstr("\\xff\\xfe binary"));
  EXPECT_LE(out.fail.error().size(), 1100u);
  sluice::v1::FailTaskRequest copy;
  ASSERT_TRUE(copy.ParseFromString(out.fail.SerializeAsString()));
}

TEST_F(OutcomeTest, ReleaseIsTransientAndNamesTheReason) {
  auto out = ReleaseOutcome(task_, "agent-9", "agent draining", std::chrono::seconds(3));
  EXPECT_EQ(out.cls, OutcomeClass::kReleased);
  EXPECT_FALSE(out.is_complete());
  EXPECT_FALSE(out.fail.permanent());
  EXPECT_EQ(out.fail.error(), "agent draining");
  EXPECT_EQ(out.fail.retry_after().seconds(), 3);
  EXPECT_EQ(out.fail.http_status(), 0);
}

}  // namespace
}  // namespace sluice::agent
