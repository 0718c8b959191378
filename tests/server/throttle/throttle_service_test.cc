// ThrottleServiceImpl on a real in-process gRPC server (127.0.0.1:0) with a
// real client stub: argument validation, authentication, the lease/report
// protocol, and WatchRevocations (delivery, cancel, shutdown).
#include "server/service/throttle_service.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "common/grpc_security.h"
#include "common/time_util.h"
#include "server/throttle/throttler.h"
#include "sluice/v1/throttle.grpc.pb.h"
#include "tests/support/loopback_throttler.h"

namespace sluice {
namespace {

namespace v1 = sluice::v1;
using std::chrono::milliseconds;
using std::chrono::seconds;

const TimePoint kT0 = FromUnixSeconds(1'700'000'000);

class ThrottleServiceTest : public ::testing::Test {
 protected:
  void Start(const std::string& token = "") {
    throttle::ThrottlerOptions options;
    options.seed = 5;
    loop_ = std::make_unique<testing::LoopbackThrottler>(&clock_, options, token);
    ASSERT_TRUE(loop_->ok());
    throttler_ = loop_->throttler();
    service_ = loop_->service();
    channel_ = loop_->NewChannel();
    stub_ = v1::ThrottlerService::NewStub(channel_);
    token_ = token;
  }

  void Prepare(grpc::ClientContext* ctx) {
    if (!token_.empty()) ctx->AddMetadata("authorization", "Bearer " + token_);
    ctx->set_deadline(std::chrono::system_clock::now() + seconds(10));
  }

  static v1::RouteRef Route(const std::string& upstream, const std::string& route,
                            const std::string& egress = "") {
    v1::RouteRef r;
    r.set_upstream(upstream);
    r.set_route(route);
    r.set_egress(egress);
    return r;
  }

  static v1::Observation Observation(const std::string& route, int status,
                                     std::vector<std::pair<std::string, std::string>> headers,
                                     int64_t lease_id) {
    v1::Observation o;
    *o.mutable_route() = Route("esi", route);
    o.set_status(status);
    for (auto& [name, value] : headers) {
      v1::Header* h = o.add_headers();
      h->set_name(name);
      h->set_value(value);
    }
    o.set_lease_id(lease_id);
    *o.mutable_response_age() = ToProtoDuration(milliseconds(5));
    *o.mutable_sent_age() = ToProtoDuration(milliseconds(60));
    return o;
  }

  static std::vector<std::pair<std::string, std::string>> Group(const std::string& group) {
    return {{"X-Ratelimit-Group", group},        {"X-Ratelimit-Limit", "600/1m"},
            {"X-Ratelimit-Remaining", "598"},    {"X-Ratelimit-Used", "2"},
            {"X-ESI-Error-Limit-Remain", "100"}, {"X-ESI-Error-Limit-Reset", "60"}};
  }

  v1::LeaseTokensResponse Lease(const std::string& agent, const std::string& route, int count,
                                bool arm_before_use = false) {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::LeaseTokensRequest req;
    req.set_agent_id(agent);
    *req.mutable_route() = Route("esi", route);
    req.set_count(count);
    req.set_arm_before_use(arm_before_use);
    v1::LeaseTokensResponse resp;
    grpc::Status s = stub_->LeaseTokens(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  void Batch(const std::string& agent, std::vector<v1::Observation> observations,
             std::vector<std::pair<int64_t, int>> returns = {}) {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::ReportBatchRequest req;
    req.set_agent_id(agent);
    for (auto& o : observations) *req.add_observations() = std::move(o);
    for (auto [id, unspent] : returns) {
      v1::TokenReturn* r = req.add_returns();
      r->set_lease_id(id);
      r->set_unspent(unspent);
    }
    v1::ReportBatchResponse resp;
    grpc::Status s = stub_->ReportBatch(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  grpc::Status Arm(const std::string& agent, int64_t lease_id, int count,
                   v1::ArmTokensResponse* out) {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::ArmTokensRequest req;
    req.set_agent_id(agent);
    req.set_lease_id(lease_id);
    req.set_count(count);
    return stub_->ArmTokens(&ctx, req, out);
  }

  // The budget `name` as ListBudgets shows it (absent: an empty Budget).
  v1::Budget ListedBudget(const std::string& name) {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::ListBudgetsRequest req;
    req.set_match(name);
    v1::ListBudgetsResponse list;
    EXPECT_TRUE(stub_->ListBudgets(&ctx, req, &list).ok());
    for (const v1::Budget& b : list.budgets()) {
      if (b.name() == name) return b;
    }
    return v1::Budget();
  }

  // Leases one call on `route` and reports it answered with group headers.
  void Learn(const std::string& route, const std::string& group) {
    v1::LeaseTokensResponse lease = Lease("learner", route, 1);
    ASSERT_EQ(lease.granted(), 1);
    Batch("learner", {Observation(route, 200, Group(group), lease.lease_id())});
  }

  FakeClock clock_{kT0};
  std::unique_ptr<testing::LoopbackThrottler> loop_;
  throttle::Throttler* throttler_ = nullptr;  // loop_'s
  ThrottleServiceImpl* service_ = nullptr;    // loop_'s
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ThrottlerService::Stub> stub_;
  std::string token_;
};

TEST_F(ThrottleServiceTest, InvalidArgumentsNameTheField) {
  Start();
  struct Case {
    std::function<grpc::Status(grpc::ClientContext*)> call;
    std::string message;
  };
  std::vector<Case> cases = {
      {[&](grpc::ClientContext* c) {
         v1::NextPermittedRequest r;
         v1::NextPermittedResponse out;
         return stub_->NextPermitted(c, r, &out);
       },
       "route is required"},
      {[&](grpc::ClientContext* c) {
         v1::NextPermittedRequest r;
         *r.mutable_route() = Route("github", "/x");
         v1::NextPermittedResponse out;
         return stub_->NextPermitted(c, r, &out);
       },
       "route.upstream must be 'esi' or 'poe'"},
      {[&](grpc::ClientContext* c) {
         v1::NextPermittedRequest r;
         *r.mutable_route() = Route("esi", "");
         v1::NextPermittedResponse out;
         return stub_->NextPermitted(c, r, &out);
       },
       "route.route must be a path template of 1..256 characters"},
      {[&](grpc::ClientContext* c) {
         v1::AcquireRequest r;
         *r.mutable_route() = Route("poe", "/x", "bad egress!");
         v1::AcquireResponse out;
         return stub_->Acquire(c, r, &out);
       },
       "route.egress must be an address made of [0-9A-Za-z.:_-]"},
      {[&](grpc::ClientContext* c) {
         v1::AcquireRequest r;
         *r.mutable_route() = Route("esi", "/x/");
         r.set_n(5000);
         v1::AcquireResponse out;
         return stub_->Acquire(c, r, &out);
       },
       "n must be between 1 and 1000"},
      {[&](grpc::ClientContext* c) {
         v1::AcquireRequest r;
         *r.mutable_route() = Route("esi", "/x/");
         r.mutable_max_wait()->set_seconds(-1);
         v1::AcquireResponse out;
         return stub_->Acquire(c, r, &out);
       },
       "max_wait must be between 0 and 3600s"},
      {[&](grpc::ClientContext* c) {
         v1::LeaseTokensRequest r;
         *r.mutable_route() = Route("esi", "/x/");
         r.set_count(1);
         v1::LeaseTokensResponse out;
         return stub_->LeaseTokens(c, r, &out);
       },
       "agent_id is required"},
      {[&](grpc::ClientContext* c) {
         v1::LeaseTokensRequest r;
         r.set_agent_id("a");
         *r.mutable_route() = Route("esi", "/x/");
         v1::LeaseTokensResponse out;
         return stub_->LeaseTokens(c, r, &out);
       },
       "count must be between 1 and 1000"},
      {[&](grpc::ClientContext* c) {
         v1::ArmTokensRequest r;
         r.set_lease_id(1);
         r.set_count(1);
         v1::ArmTokensResponse out;
         return stub_->ArmTokens(c, r, &out);
       },
       "agent_id is required"},
      {[&](grpc::ClientContext* c) {
         v1::ArmTokensRequest r;
         r.set_agent_id("a");
         r.set_count(1);
         v1::ArmTokensResponse out;
         return stub_->ArmTokens(c, r, &out);
       },
       "lease_id must be positive"},
      {[&](grpc::ClientContext* c) {
         v1::ArmTokensRequest r;
         r.set_agent_id("a");
         r.set_lease_id(1);
         v1::ArmTokensResponse out;
         return stub_->ArmTokens(c, r, &out);
       },
       "count must be between 1 and 1000"},
      {[&](grpc::ClientContext* c) {
         v1::ArmTokensRequest r;
         r.set_agent_id("a");
         r.set_lease_id(1);
         r.set_count(1001);
         v1::ArmTokensResponse out;
         return stub_->ArmTokens(c, r, &out);
       },
       "count must be between 1 and 1000"},
      {[&](grpc::ClientContext* c) {
         v1::ReportBatchRequest r;
         *r.add_observations() = Observation("/x/", 200, {}, 0);
         *r.add_observations() = Observation("/x/", 42, {}, 0);
         v1::ReportBatchResponse out;
         return stub_->ReportBatch(c, r, &out);
       },
       "observations[1].status must be 0 (transport failure) or 100..599"},
      {[&](grpc::ClientContext* c) {
         v1::ReportBatchRequest r;
         v1::Observation o = Observation("/x/", 200, {}, 0);
         o.mutable_route()->set_upstream("ESI");
         *r.add_observations() = o;
         v1::ReportBatchResponse out;
         return stub_->ReportBatch(c, r, &out);
       },
       "observations[0].route.upstream must be 'esi' or 'poe'"},
      {[&](grpc::ClientContext* c) {
         v1::ReportBatchRequest r;
         v1::TokenReturn* t = r.add_returns();
         t->set_lease_id(7);
         t->set_unspent(-1);
         v1::ReportBatchResponse out;
         return stub_->ReportBatch(c, r, &out);
       },
       "returns[0].unspent must be between 0 and 1000"},
      {[&](grpc::ClientContext* c) {
         v1::ReportRequest r;
         v1::ReportResponse out;
         return stub_->Report(c, r, &out);
       },
       "observation is required"},
      {[&](grpc::ClientContext* c) {
         v1::ReportRequest r;
         *r.mutable_observation() = Observation("/x/", 200, {}, 0);
         r.mutable_observation()->mutable_response_age()->set_seconds(-3);
         v1::ReportResponse out;
         return stub_->Report(c, r, &out);
       },
       "observation.response_age must be between 0 and 3600s"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    grpc::Status s = cases[i].call(&ctx);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << i;
    EXPECT_EQ(s.error_message(), cases[i].message) << i;
  }
  // A rejected batch applied nothing.
  EXPECT_TRUE(throttler_->ListBudgets().empty());
}

TEST_F(ThrottleServiceTest, EveryMethodChecksTheBearerToken) {
  Start("s3cret");
  {
    grpc::ClientContext ctx;  // no token
    v1::ListBudgetsResponse out;
    EXPECT_EQ(stub_->ListBudgets(&ctx, v1::ListBudgetsRequest(), &out).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer wrong");
    v1::LeaseTokensRequest r;
    v1::LeaseTokensResponse out;
    EXPECT_EQ(stub_->LeaseTokens(&ctx, r, &out).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer wrong");
    v1::ArmTokensRequest r;
    v1::ArmTokensResponse out;
    EXPECT_EQ(stub_->ArmTokens(&ctx, r, &out).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext ctx;
    auto reader = stub_->WatchRevocations(&ctx, v1::WatchRevocationsRequest());
    v1::Revocation r;
    EXPECT_FALSE(reader->Read(&r));
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  grpc::ClientContext ctx;
  Prepare(&ctx);
  v1::ListBudgetsResponse out;
  EXPECT_TRUE(stub_->ListBudgets(&ctx, v1::ListBudgetsRequest(), &out).ok());
}

TEST_F(ThrottleServiceTest, LeaseReportAndListOverTheWire) {
  Start();
  v1::LeaseTokensResponse probe = Lease("a", "/alliances/{id}/", 5);
  EXPECT_EQ(probe.granted(), 1);
  EXPECT_EQ(FromProtoDuration(probe.ttl()), seconds(2));
  EXPECT_EQ(FromProto(probe.expires_at()), kT0 + seconds(2));
  v1::LeaseTokensResponse refused = Lease("b", "/alliances/{id}/", 5);
  EXPECT_EQ(refused.granted(), 0);
  EXPECT_EQ(refused.lease_id(), 0);
  EXPECT_GT(FromProto(refused.retry_at()), kT0);
  EXPECT_EQ(refused.limiting_budget(), "esi/route//alliances/{id}/");

  Batch("a", {Observation("/alliances/{id}/", 200, Group("alliance"), probe.lease_id())});
  v1::LeaseTokensResponse lease = Lease("b", "/alliances/{id}/", 5);
  EXPECT_EQ(lease.granted(), 5);
  Batch("b", {Observation("/alliances/{id}/", 200, {}, lease.lease_id())}, {{lease.lease_id(), 4}});

  grpc::ClientContext ctx;
  Prepare(&ctx);
  v1::ListBudgetsResponse list;
  ASSERT_TRUE(stub_->ListBudgets(&ctx, v1::ListBudgetsRequest(), &list).ok());
  EXPECT_EQ(FromProto(list.now()), kT0);
  const v1::Budget* group = nullptr;
  for (const v1::Budget& b : list.budgets()) {
    if (b.name() == "esi/group/alliance/ip:unknown") group = &b;
  }
  ASSERT_NE(group, nullptr);
  EXPECT_TRUE(group->learned());
  ASSERT_EQ(group->windows_size(), 1);
  EXPECT_EQ(group->windows(0).limit(), 600);
  EXPECT_EQ(FromProtoDuration(group->windows(0).period()), seconds(60));
  EXPECT_EQ(group->windows(0).remaining(), 600 - 6 - 2 - 2);
  EXPECT_EQ(group->granted(), 5);
  EXPECT_EQ(group->outstanding_tokens(), 0);
  ASSERT_EQ(group->routes_size(), 1);
  EXPECT_EQ(group->routes(0), "esi /alliances/{id}/");
  EXPECT_FALSE(group->has_restricted_until());
}

TEST_F(ThrottleServiceTest, OtherTeamsAskAcquireAndReport) {
  Start();
  Learn("/markets/{region_id}/orders/", "market");
  grpc::ClientContext c1;
  Prepare(&c1);
  v1::NextPermittedRequest np;
  *np.mutable_route() = Route("esi", "/markets/{region_id}/orders/");
  v1::NextPermittedResponse when;
  ASSERT_TRUE(stub_->NextPermitted(&c1, np, &when).ok());
  EXPECT_EQ(FromProto(when.at()), kT0);
  EXPECT_EQ(FromProtoDuration(when.wait()), Duration::zero());

  grpc::ClientContext c2;
  Prepare(&c2);
  v1::AcquireRequest ar;
  *ar.mutable_route() = Route("esi", "/markets/{region_id}/orders/");
  ar.set_n(3);
  ar.set_caller("market-team");
  v1::AcquireResponse got;
  ASSERT_TRUE(stub_->Acquire(&c2, ar, &got).ok());
  EXPECT_TRUE(got.granted());
  EXPECT_GT(got.lease_id(), 0);
  EXPECT_EQ(FromProto(got.expires_at()), kT0 + seconds(2));

  grpc::ClientContext c3;
  Prepare(&c3);
  v1::ReportRequest rr;
  *rr.mutable_observation() = Observation("/markets/{region_id}/orders/", 404, {}, got.lease_id());
  v1::ReportResponse rep;
  ASSERT_TRUE(stub_->Report(&c3, rr, &rep).ok());

  // The report settled one of the three calls acquired.
  grpc::ClientContext c4;
  Prepare(&c4);
  v1::ListBudgetsRequest lr;
  lr.set_match("esi/group/market");
  v1::ListBudgetsResponse list;
  ASSERT_TRUE(stub_->ListBudgets(&c4, lr, &list).ok());
  const v1::Budget* group = nullptr;
  for (const v1::Budget& b : list.budgets()) {
    if (b.name() == "esi/group/market/ip:unknown") group = &b;
  }
  ASSERT_NE(group, nullptr) << list.DebugString();
  EXPECT_EQ(group->outstanding_tokens(), 2);
}

TEST_F(ThrottleServiceTest, RevocationReachesTheWatchingAgent) {
  Start();
  Learn("/characters/{id}/", "character");
  // An active restriction elsewhere, to be announced on connect.
  Learn("/universe/types/{id}/", "universe");
  Batch("x", {Observation("/universe/types/{id}/", 429, {{"Retry-After", "300"}}, 0)});

  grpc::ClientContext watch_ctx;
  Prepare(&watch_ctx);
  watch_ctx.set_deadline(std::chrono::system_clock::now() + seconds(30));
  v1::WatchRevocationsRequest wr;
  wr.set_agent_id("agent-a");
  auto reader = stub_->WatchRevocations(&watch_ctx, wr);
  reader->WaitForInitialMetadata();  // the stream is established: safe to lease
  v1::Revocation initial;
  ASSERT_TRUE(reader->Read(&initial));
  EXPECT_EQ(initial.budget(), "esi/group/universe/ip:unknown");
  EXPECT_EQ(initial.lease_ids_size(), 0);
  EXPECT_GE(FromProto(initial.until()), kT0 + seconds(300));

  v1::LeaseTokensResponse a = Lease("agent-a", "/characters/{id}/", 3);
  v1::LeaseTokensResponse b = Lease("agent-b", "/characters/{id}/", 1);
  ASSERT_EQ(a.granted(), 3);
  ASSERT_EQ(b.granted(), 1);
  // Agent B's call is refused by the upstream.
  Batch("agent-b", {Observation("/characters/{id}/", 429, {{"Retry-After", "30"}}, b.lease_id())});

  v1::Revocation r;
  ASSERT_TRUE(reader->Read(&r));
  EXPECT_EQ(r.budget(), "esi/group/character/ip:unknown");
  // Only agent A's leases are listed on agent A's stream.
  ASSERT_EQ(r.lease_ids_size(), 1);
  EXPECT_EQ(r.lease_ids(0), a.lease_id());
  EXPECT_GE(FromProto(r.until()), kT0 + seconds(30));
  EXPECT_NE(r.reason().find("429"), std::string::npos);
  // And A cannot lease again on that budget.
  EXPECT_EQ(Lease("agent-a", "/characters/{id}/", 1).granted(), 0);

  watch_ctx.TryCancel();
  while (reader->Read(&r)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(ThrottleServiceTest, WatchEndsPromptlyWhenTheClientCancels) {
  Start();
  grpc::ClientContext ctx;
  Prepare(&ctx);
  auto reader = stub_->WatchRevocations(&ctx, v1::WatchRevocationsRequest());
  reader->WaitForInitialMetadata();
  ASSERT_EQ(service_->watchers(), 1u);
  auto start = std::chrono::steady_clock::now();
  ctx.TryCancel();
  v1::Revocation r;
  EXPECT_FALSE(reader->Read(&r));
  reader->Finish();
  while (service_->watchers() != 0 && std::chrono::steady_clock::now() - start < seconds(5)) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_EQ(service_->watchers(), 0u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(1));
}

TEST_F(ThrottleServiceTest, WatchEndsPromptlyOnShutdown) {
  Start();
  grpc::ClientContext ctx;
  Prepare(&ctx);
  auto reader = stub_->WatchRevocations(&ctx, v1::WatchRevocationsRequest());
  reader->WaitForInitialMetadata();
  auto start = std::chrono::steady_clock::now();
  service_->Shutdown();
  v1::Revocation r;
  EXPECT_FALSE(reader->Read(&r));
  grpc::Status s = reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  loop_->Shutdown(seconds(10));
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(1));
  // New watchers are refused.
  EXPECT_EQ(service_->watchers(), 0u);
}

TEST_F(ThrottleServiceTest, ArmTokensOverTheWireAndWhatItRefuses) {
  Start();
  Learn("/alliances/{id}/", "alliance");
  const std::string errors = "esi/errors/ip:unknown";
  v1::LeaseTokensResponse lease = Lease("agent-a", "/alliances/{id}/", 4, /*arm_before_use=*/true);
  ASSERT_EQ(lease.granted(), 4);
  EXPECT_TRUE(lease.arm_before_use());
  EXPECT_FALSE(Lease("agent-a", "/alliances/{id}/", 1).arm_before_use())
      << "only leases asked with arm_before_use arm";

  v1::ArmTokensResponse armed;
  grpc::Status s = Arm("agent-a", lease.lease_id(), 1, &armed);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(armed.armed(), 1);
  ASSERT_TRUE(Arm("agent-a", lease.lease_id(), 1, &armed).ok());
  EXPECT_EQ(armed.armed(), 2) << "the lease's armed total";

  s = Arm("agent-b", lease.lease_id(), 1, &armed);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  s = Arm("agent-a", lease.lease_id() + 1000, 1, &armed);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();

  // One armed call reported; the other may be in flight. At expiry the two
  // never armed stop holding the error limit; the armed one stays until the
  // lapse.
  Batch("agent-a", {Observation("/alliances/{id}/", 200, {}, lease.lease_id())});
  // (+1: the lease without arming keeps its call until it lapses.)
  EXPECT_EQ(ListedBudget(errors).outstanding_tokens(), 3 + 1);
  clock_.Set(FromProto(lease.expires_at()));
  EXPECT_EQ(ListedBudget(errors).outstanding_tokens(), 1 + 1);
  s = Arm("agent-a", lease.lease_id(), 1, &armed);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << "expired";
  EXPECT_NE(s.error_message().find("expired"), std::string::npos) << s.error_message();
}

}  // namespace
}  // namespace sluice
