// The PoE stream handlers over real HTTP against the simulator: the URL built
// from the task's stream context (realm, cursor), the page as the coordinator
// will receive it, bad bodies named precisely, and the identifying
// User-Agent on every request.
#include <gtest/gtest.h>

#include "agent/core/outcome.h"
#include "agent/handlers/all_handlers.h"
#include "agent/http/curl_client.h"
#include "sim/poe_routes.h"
#include "sim/simulator.h"
#include "sluice/v1/poe.pb.h"

namespace sluice::agent {
namespace {

constexpr char kContact[] = "poe-ops@example.org";

class PoeHandlersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    clock_ = std::make_unique<FakeClock>(FromUnixSeconds(1767225600));  // on an hour
    stream_.backlog_pages = 3;
    stream_.pages_per_second = 0;
    stream_.stashes_per_page = 6;
    stream_.missing_hours = {1767225600 - 2 * 3600};
    sim::PoeRoutes::SetStreamConfig(stream_);
    sim::SimConfig config;
    config.poe_stash_rules.clear();
    config.poe_exchange_rules.clear();
    sim_ = std::make_unique<sim::Simulator>(config, clock_.get());
    ASSERT_TRUE(sim_->Start(0).ok());
    CurlClientOptions o;
    o.user_agent = MakeUserAgent(kContact);
    client_ = std::make_unique<CurlClient>(o);
  }

  sluice::v1::Task StreamTask(const std::string& kind, const std::string& realm,
                              const std::string& cursor) {
    sluice::v1::Task task;
    task.set_task_id(1);
    task.set_kind(kind);
    task.set_entity_id(realm == "pc" ? 1 : realm == "xbox" ? 2 : 3);
    task.set_fencing_token(1);
    sluice::v1::PoeStreamContext context;
    context.set_stream(kind + ":" + realm);
    context.set_realm(realm);
    context.set_cursor(cursor);
    task.mutable_context()->PackFrom(context);
    return task;
  }

  std::unique_ptr<Handler> MakeHandler(const std::string& kind) {
    HandlerConfig config;
    config.poe_base_url = sim_->base_url();
    return registry_.Find(kind)->factory(config);
  }

  TaskOutcome Run(const Handler& handler, const sluice::v1::Task& task,
                  std::string* url = nullptr) {
    UpstreamRequest request = handler.BuildRequest(task);
    if (url != nullptr) *url = request.url;
    auto response = client_->Get(request.url, request.headers);
    return DecideOutcome(handler, task, "poe-test", response, SystemClock::Get()->Now());
  }

  const HandlerRegistry registry_ = DefaultHandlerRegistry();
  sim::PoeStreamConfig stream_;
  std::unique_ptr<FakeClock> clock_;
  std::unique_ptr<sim::Simulator> sim_;
  std::unique_ptr<CurlClient> client_;
};

TEST_F(PoeHandlersTest, RoutesAreThePoePolicies) {
  EXPECT_EQ(registry_.Find("poe_stash_stream")->route.Key(), "poe /public-stash-tabs");
  EXPECT_EQ(registry_.Find("poe_exchange_stream")->route.Key(), "poe /currency-exchange/{id}");
}

TEST_F(PoeHandlersTest, StashPageCarriesItsStartCursorAndEveryStash) {
  auto handler = MakeHandler("poe_stash_stream");
  const std::string cursor = sim::PoeRoutes::ChangeIdOf(1);
  std::string url;
  TaskOutcome out = Run(*handler, StreamTask("poe_stash_stream", "xbox", cursor), &url);
  EXPECT_EQ(url, sim_->base_url() + "/public-stash-tabs/xbox?id=" + cursor);
  ASSERT_EQ(out.cls, OutcomeClass::kCompleted) << out.fail.error();
  sluice::v1::PoeStashPage page;
  ASSERT_TRUE(out.complete.payload().UnpackTo(&page));
  EXPECT_EQ(page.start_cursor(), cursor);
  EXPECT_EQ(page.next_change_id(), sim::PoeRoutes::ChangeIdOf(2));
  sim::PoeRoutes expected(clock_.get(), stream_);
  nlohmann::json stashes = expected.StashesOf("xbox", 1);
  ASSERT_EQ(page.stashes_size(), static_cast<int>(stashes.size()));
  for (int i = 0; i < page.stashes_size(); ++i) {
    const auto& s = stashes[i];
    EXPECT_EQ(page.stashes(i).id(), s["id"].get<std::string>());
    EXPECT_EQ(page.stashes(i).public_(), s["public"].get<bool>());
    EXPECT_EQ(page.stashes(i).league(),
              s["league"].is_null() ? "" : s["league"].get<std::string>());
    EXPECT_EQ(nlohmann::json::parse(page.stashes(i).items_json()), s["items"]);
  }
}

TEST_F(PoeHandlersTest, StartOfStreamAndHeadAreServed) {
  auto handler = MakeHandler("poe_stash_stream");
  std::string url;
  TaskOutcome start = Run(*handler, StreamTask("poe_stash_stream", "pc", ""), &url);
  EXPECT_EQ(url, sim_->base_url() + "/public-stash-tabs");
  ASSERT_EQ(start.cls, OutcomeClass::kCompleted) << start.fail.error();
  sluice::v1::PoeStashPage page;
  ASSERT_TRUE(start.complete.payload().UnpackTo(&page));
  EXPECT_EQ(page.start_cursor(), "");
  EXPECT_EQ(page.stashes_size(), 6);

  const std::string head = sim::PoeRoutes::ChangeIdOf(3);
  TaskOutcome at_head = Run(*handler, StreamTask("poe_stash_stream", "pc", head));
  ASSERT_EQ(at_head.cls, OutcomeClass::kCompleted);
  ASSERT_TRUE(at_head.complete.payload().UnpackTo(&page));
  EXPECT_EQ(page.next_change_id(), head) << "the head answers with the same id";
  EXPECT_EQ(page.stashes_size(), 0);
}

TEST_F(PoeHandlersTest, ExchangeHourMarketsAndMissingHour) {
  auto handler = MakeHandler("poe_exchange_stream");
  const int64_t hour = 1767225600 - 3 * 3600;
  std::string url;
  TaskOutcome out =
      Run(*handler, StreamTask("poe_exchange_stream", "sony", std::to_string(hour)), &url);
  EXPECT_EQ(url, sim_->base_url() + "/currency-exchange/sony/" + std::to_string(hour));
  ASSERT_EQ(out.cls, OutcomeClass::kCompleted) << out.fail.error();
  sluice::v1::PoeExchangePage page;
  ASSERT_TRUE(out.complete.payload().UnpackTo(&page));
  EXPECT_EQ(page.start_hour(), hour);
  EXPECT_EQ(page.next_hour(), hour + 3600);
  ASSERT_GT(page.markets_size(), 0);
  EXPECT_EQ(page.markets(0).market_id(), "chaos|divine");
  EXPECT_TRUE(nlohmann::json::parse(page.markets(0).volume_traded_json()).contains("divine"));

  TaskOutcome missing =
      Run(*handler, StreamTask("poe_exchange_stream", "pc", std::to_string(hour + 3600)));
  ASSERT_TRUE(missing.complete.payload().UnpackTo(&page));
  EXPECT_EQ(page.markets_size(), 0);
  EXPECT_EQ(page.next_hour(), hour + 2 * 3600);

  const int64_t current = 1767225600;
  TaskOutcome not_yet =
      Run(*handler, StreamTask("poe_exchange_stream", "pc", std::to_string(current)));
  ASSERT_TRUE(not_yet.complete.payload().UnpackTo(&page));
  EXPECT_EQ(page.next_hour(), current) << "the current hour is not published yet";
}

TEST_F(PoeHandlersTest, BadBodiesAndMissingContextAreNamed) {
  auto handler = MakeHandler("poe_stash_stream");
  sluice::v1::Task task = StreamTask("poe_stash_stream", "pc", "");
  HttpResponse r;
  r.status = 200;
  r.body = R"({"next_change_id": "1-2", "stashes": [{"id": "x", "items": 5}]})";
  auto parsed = handler->Parse(task, r);
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(parsed.status().message().find("stashes[0]: field 'items'"), std::string::npos)
      << parsed.status();
  // A stream cannot skip a page (it holds the next cursor): retried, not poison.
  TaskOutcome out = DecideOutcome(*handler, task, "poe-test", r, SystemClock::Get()->Now());
  EXPECT_EQ(out.cls, OutcomeClass::kBadBody);
  EXPECT_FALSE(out.fail.permanent());
  for (const char* kind : {"poe_stash_stream", "poe_exchange_stream"}) {
    EXPECT_FALSE(MakeHandler(kind)->skips_poison()) << kind;
  }
  r.body = R"({"stashes": []})";
  EXPECT_NE(handler->Parse(task, r).status().message().find("next_change_id"), std::string::npos);
  sluice::v1::Task bare = task;
  bare.clear_context();
  r.body = R"({"next_change_id": "1-2", "stashes": []})";
  EXPECT_NE(handler->Parse(bare, r).status().message().find("no stream context"),
            std::string::npos);
}

TEST_F(PoeHandlersTest, AContextOfAnotherTypeIsNamed) {
  HttpResponse r;
  r.status = 200;
  r.body = R"({"next_change_id": "1-2", "stashes": []})";
  for (const char* kind : {"poe_stash_stream", "poe_exchange_stream"}) {
    auto handler = MakeHandler(kind);
    sluice::v1::Task task = StreamTask(kind, "pc", "1");
    task.mutable_context()->PackFrom(sluice::v1::PoeStashPage());
    auto parsed = handler->Parse(task, r);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << kind;
    EXPECT_NE(parsed.status().message().find("sluice.v1.PoeStashPage', expected "
                                             "sluice.v1.PoeStreamContext"),
              std::string::npos)
        << parsed.status();
  }
}

TEST_F(PoeHandlersTest, EveryRequestCarriesTheIdentifyingUserAgent) {
  auto stash = MakeHandler("poe_stash_stream");
  auto exchange = MakeHandler("poe_exchange_stream");
  Run(*stash, StreamTask("poe_stash_stream", "pc", ""));
  Run(*exchange, StreamTask("poe_exchange_stream", "pc", std::to_string(1767225600 - 3600)));
  nlohmann::json stats = sim_->Stats();
  EXPECT_EQ(stats["requests_without_user_agent"].get<int64_t>(), 0);
  const std::string ua = MakeUserAgent(kContact);
  EXPECT_NE(ua.find(kContact), std::string::npos);
  ASSERT_TRUE(stats["user_agents"].contains(ua)) << stats["user_agents"].dump();
  EXPECT_EQ(stats["user_agents"][ua].get<int64_t>(), 2);
}

}  // namespace
}  // namespace sluice::agent
