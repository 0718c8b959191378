// Many decisions per message on a real in-process gRPC server (127.0.0.1:0)
// with a real client stub: NextPermittedBatch and AcquireBatch answer each
// item on its own (a bad item fails only itself) within a bound, and the
// Decide stream answers its requests in order while many are in flight.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/grpc_security.h"
#include "common/time_util.h"
#include "server/service/throttle_service.h"
#include "server/throttle/throttler.h"
#include "sluice/v1/throttle.grpc.pb.h"
#include "tests/support/loopback_throttler.h"

namespace sluice {
namespace {

namespace v1 = sluice::v1;
using std::chrono::seconds;

const TimePoint kT0 = FromUnixSeconds(1'700'000'000);

class ThrottleDecisionsTest : public ::testing::Test {
 protected:
  void Start(const std::string& token = "") {
    throttle::ThrottlerOptions options;
    options.seed = 7;
    loop_ = std::make_unique<testing::LoopbackThrottler>(&clock_, options, token);
    ASSERT_TRUE(loop_->ok());
    throttler_ = loop_->throttler();
    service_ = loop_->service();
    stub_ = v1::ThrottlerService::NewStub(loop_->NewChannel());
  }

  static void Prepare(grpc::ClientContext* ctx) {
    ctx->set_deadline(std::chrono::system_clock::now() + seconds(20));
  }

  static v1::RouteRef Route(const std::string& upstream, const std::string& route) {
    v1::RouteRef r;
    r.set_upstream(upstream);
    r.set_route(route);
    return r;
  }
  static v1::NextPermittedRequest NextPermittedOf(const std::string& upstream,
                                                  const std::string& route, int n = 1) {
    v1::NextPermittedRequest r;
    *r.mutable_route() = Route(upstream, route);
    r.set_n(n);
    return r;
  }
  static v1::AcquireRequest AcquireOf(const std::string& upstream, const std::string& route) {
    v1::AcquireRequest r;
    *r.mutable_route() = Route(upstream, route);
    r.set_n(1);
    return r;
  }

  FakeClock clock_{kT0};
  std::unique_ptr<testing::LoopbackThrottler> loop_;
  throttle::Throttler* throttler_ = nullptr;  // loop_'s
  ThrottleServiceImpl* service_ = nullptr;    // loop_'s
  std::unique_ptr<v1::ThrottlerService::Stub> stub_;
};

TEST_F(ThrottleDecisionsTest, NextPermittedBatchAnswersEachItemOnItsOwn) {
  Start();
  v1::NextPermittedBatchRequest request;
  *request.add_items() = NextPermittedOf("poe", "/a");
  *request.add_items() = NextPermittedOf("github", "/a");    // bad upstream
  *request.add_items() = NextPermittedOf("poe", "/a", 500);  // more than the budget ever holds
  *request.add_items() = NextPermittedOf("esi", "/b");
  v1::NextPermittedBatchResponse response;
  grpc::ClientContext ctx;
  Prepare(&ctx);
  grpc::Status s = stub_->NextPermittedBatch(&ctx, request, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(response.answers_size(), 4);

  // Each good item answers what the unary call answers for it.
  for (int i : {0, 3}) {
    v1::NextPermittedResponse unary;
    grpc::ClientContext uctx;
    Prepare(&uctx);
    ASSERT_TRUE(stub_->NextPermitted(&uctx, request.items(i), &unary).ok());
    EXPECT_EQ(response.answers(i).status().code(), 0) << i;
    EXPECT_TRUE(response.answers(i).has_response()) << i;
    EXPECT_EQ(FromProto(response.answers(i).response().at()), FromProto(unary.at())) << i;
    EXPECT_EQ(response.answers(i).response().limiting_budget(), unary.limiting_budget()) << i;
  }
  EXPECT_EQ(response.answers(1).status().code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(response.answers(1).status().message(), "route.upstream must be 'esi' or 'poe'");
  EXPECT_FALSE(response.answers(1).has_response());
  EXPECT_EQ(response.answers(2).status().code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_FALSE(response.answers(2).has_response());
}

TEST_F(ThrottleDecisionsTest, AcquireBatchDecidesItemsInOrderAndABadItemFailsOnlyItself) {
  Start();
  // A budget never observed probes: one call in flight. The first item takes
  // it, so the third (same route) is refused; another route is not.
  v1::AcquireBatchRequest request;
  *request.add_items() = AcquireOf("poe", "/probe");
  *request.add_items() = AcquireOf("poe", "");  // bad route
  *request.add_items() = AcquireOf("poe", "/probe");
  *request.add_items() = AcquireOf("poe", "/other");
  v1::AcquireBatchResponse response;
  grpc::ClientContext ctx;
  Prepare(&ctx);
  grpc::Status s = stub_->AcquireBatch(&ctx, request, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(response.answers_size(), 4);

  EXPECT_TRUE(response.answers(0).response().granted());
  EXPECT_GT(response.answers(0).response().lease_id(), 0);
  EXPECT_EQ(response.answers(1).status().code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_FALSE(response.answers(2).response().granted());
  EXPECT_GT(FromProto(response.answers(2).response().at()), kT0);
  EXPECT_TRUE(response.answers(3).response().granted());
  EXPECT_NE(response.answers(3).response().lease_id(), response.answers(0).response().lease_id());

  // The grants are real: the throttler holds one call in flight per route.
  int64_t outstanding = 0;
  for (const throttle::BudgetInfo& b : throttler_->ListBudgets()) {
    outstanding += b.outstanding_calls;
  }
  EXPECT_EQ(outstanding, 2);
}

TEST_F(ThrottleDecisionsTest, BatchesAreBoundedWithAClearError) {
  Start();
  v1::NextPermittedBatchRequest request;
  for (int i = 0; i < ThrottleServiceImpl::kMaxBatchItems; ++i) {
    *request.add_items() = NextPermittedOf("poe", "/bound");
  }
  {
    v1::NextPermittedBatchResponse response;
    grpc::ClientContext ctx;
    Prepare(&ctx);
    ASSERT_TRUE(stub_->NextPermittedBatch(&ctx, request, &response).ok());
    EXPECT_EQ(response.answers_size(), ThrottleServiceImpl::kMaxBatchItems);
  }
  *request.add_items() = NextPermittedOf("poe", "/bound");
  v1::NextPermittedBatchResponse response;
  grpc::ClientContext ctx;
  Prepare(&ctx);
  grpc::Status s = stub_->NextPermittedBatch(&ctx, request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "items must have at most 1000 entries (got 1001)");

  v1::AcquireBatchRequest acquires;
  for (int i = 0; i <= ThrottleServiceImpl::kMaxBatchItems; ++i) {
    *acquires.add_items() = AcquireOf("poe", "/bound");
  }
  v1::AcquireBatchResponse acquired;
  grpc::ClientContext actx;
  Prepare(&actx);
  s = stub_->AcquireBatch(&actx, acquires, &acquired);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // Refused whole: nothing was granted.
  for (const throttle::BudgetInfo& b : throttler_->ListBudgets()) {
    EXPECT_EQ(b.counters.granted, 0) << b.name;
  }
}

// Requests of every kind, all written before any answer is read: each comes
// back once, in order, with the answer of its own kind.
TEST_F(ThrottleDecisionsTest, DecideAnswersInOrderWithManyInFlight) {
  Start();
  constexpr int kRequests = 200;  // below the server's read-ahead: no answer is needed to send
  grpc::ClientContext ctx;
  Prepare(&ctx);
  auto stream = stub_->Decide(&ctx);
  for (int i = 0; i < kRequests; ++i) {
    v1::DecideRequest r;
    r.set_id(1000 + i);
    switch (i % 5) {
      case 0:
        *r.mutable_next_permitted() = NextPermittedOf("poe", "/stream");
        break;
      case 1:
        *r.mutable_acquire() = AcquireOf("poe", "/stream/" + std::to_string(i));
        break;
      case 2:
        *r.mutable_next_permitted() = NextPermittedOf("nope", "/stream");  // bad
        break;
      case 3:
        *r.mutable_acquire_batch()->add_items() = AcquireOf("poe", "/b/" + std::to_string(i));
        *r.mutable_acquire_batch()->add_items() = AcquireOf("nope", "/b");
        break;
      case 4:
        break;  // no decision: refused on its own
    }
    ASSERT_TRUE(stream->Write(r)) << i;
  }
  ASSERT_TRUE(stream->WritesDone());
  for (int i = 0; i < kRequests; ++i) {
    v1::DecideResponse a;
    ASSERT_TRUE(stream->Read(&a)) << i;
    ASSERT_EQ(a.id(), 1000u + i);
    switch (i % 5) {
      case 0:
        EXPECT_TRUE(a.has_next_permitted()) << i;
        EXPECT_EQ(a.status().code(), 0) << i;
        break;
      case 1:
        ASSERT_TRUE(a.has_acquire()) << i;
        EXPECT_TRUE(a.acquire().granted()) << i;
        break;
      case 2:
        EXPECT_EQ(a.status().code(), grpc::StatusCode::INVALID_ARGUMENT) << i;
        EXPECT_EQ(a.answer_case(), v1::DecideResponse::ANSWER_NOT_SET) << i;
        break;
      case 3:
        ASSERT_EQ(a.acquire_batch().answers_size(), 2) << i;
        EXPECT_TRUE(a.acquire_batch().answers(0).response().granted()) << i;
        EXPECT_EQ(a.acquire_batch().answers(1).status().code(), grpc::StatusCode::INVALID_ARGUMENT)
            << i;
        break;
      case 4:
        EXPECT_EQ(a.status().code(), grpc::StatusCode::INVALID_ARGUMENT) << i;
        EXPECT_NE(a.status().message().find("decision is required"), std::string::npos);
        break;
    }
  }
  v1::DecideResponse extra;
  EXPECT_FALSE(stream->Read(&extra));
  grpc::Status s = stream->Finish();
  EXPECT_TRUE(s.ok()) << s.error_message();
}

// Far more requests than the server reads ahead, answers read concurrently:
// flow control, not an error, and still every answer in order.
TEST_F(ThrottleDecisionsTest, DecideKeepsOrderBeyondItsReadAhead) {
  Start();
  constexpr int kRequests = 20000;
  grpc::ClientContext ctx;
  Prepare(&ctx);
  auto stream = stub_->Decide(&ctx);
  std::thread writer([&] {
    for (int i = 0; i < kRequests; ++i) {
      v1::DecideRequest r;
      r.set_id(i);
      *r.mutable_next_permitted() = NextPermittedOf("esi", "/order");
      if (!stream->Write(r)) return;
    }
    stream->WritesDone();
  });
  int read = 0;
  v1::DecideResponse a;
  while (stream->Read(&a)) {
    ASSERT_EQ(a.id(), static_cast<uint64_t>(read));
    ASSERT_TRUE(a.has_next_permitted());
    ++read;
  }
  writer.join();
  EXPECT_EQ(read, kRequests);
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(ThrottleDecisionsTest, DecideEndsUnavailableOnShutdown) {
  Start();
  grpc::ClientContext ctx;
  Prepare(&ctx);
  auto stream = stub_->Decide(&ctx);
  v1::DecideRequest r;
  r.set_id(1);
  *r.mutable_next_permitted() = NextPermittedOf("poe", "/x");
  ASSERT_TRUE(stream->Write(r));
  v1::DecideResponse a;
  ASSERT_TRUE(stream->Read(&a));
  const auto t0 = std::chrono::steady_clock::now();
  service_->Shutdown();
  EXPECT_FALSE(stream->Read(&a));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, seconds(2));

  // And a new stream is refused.
  grpc::ClientContext ctx2;
  Prepare(&ctx2);
  auto refused = stub_->Decide(&ctx2);
  EXPECT_FALSE(refused->Read(&a));
  EXPECT_EQ(refused->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(ThrottleDecisionsTest, BatchesAndDecideNeedTheToken) {
  Start("secret");
  v1::NextPermittedBatchRequest request;
  *request.add_items() = NextPermittedOf("poe", "/a");
  v1::NextPermittedBatchResponse response;
  grpc::ClientContext ctx;
  Prepare(&ctx);
  EXPECT_EQ(stub_->NextPermittedBatch(&ctx, request, &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  v1::AcquireBatchResponse acquired;
  grpc::ClientContext actx;
  Prepare(&actx);
  EXPECT_EQ(stub_->AcquireBatch(&actx, v1::AcquireBatchRequest(), &acquired).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  grpc::ClientContext dctx;
  Prepare(&dctx);
  auto stream = stub_->Decide(&dctx);
  v1::DecideResponse a;
  EXPECT_FALSE(stream->Read(&a));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);

  grpc::ClientContext okctx;
  Prepare(&okctx);
  okctx.AddMetadata("authorization", "Bearer secret");
  EXPECT_TRUE(stub_->NextPermittedBatch(&okctx, request, &response).ok());
}

}  // namespace
}  // namespace sluice
