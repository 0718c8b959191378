// Leader election among coordinators sharing one database, in-process: real
// PostgreSQL, real gRPC over loopback. The kill -9 failover of a syncing group
// of coordinator processes is in tests/chaos/failover_test.cc.
#include "server/leader/coordinator_node.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <pqxx/pqxx>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/coordinator_target.h"
#include "common/grpc_security.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "server/leader/leader_elector.h"
#include "server/store/pg_pool.h"
#include "sluice/v1/admin.grpc.pb.h"
#include "sluice/v1/throttle.grpc.pb.h"
#include "tests/support/test_database.h"

namespace sluice {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class CoordinatorNodeTest : public ::testing::Test {
 protected:
  std::unique_ptr<CoordinatorNode> StartNode(const std::string& ops_listen = "") {
    CoordinatorNodeOptions options;
    options.coordinator.listen = "127.0.0.1:0";
    options.coordinator.ops_listen = ops_listen;
    options.coordinator.dsn = db_.dsn();
    options.coordinator.db_pool_size = 4;
    options.coordinator.scheduler.enabled = false;
    options.election.poll_interval = milliseconds(100);
    options.election.check_interval = milliseconds(100);
    auto node = std::make_unique<CoordinatorNode>(options);
    absl::Status s = node->Start();
    EXPECT_TRUE(s.ok()) << s;
    return node;
  }

  // An elector of the test's own, contending as a coordinator would.
  std::unique_ptr<LeaderElector> Contender() {
    LeaderElectorOptions options;
    options.dsn = db_.dsn();
    options.holder = "test";
    return std::make_unique<LeaderElector>(options);
  }

  // A connection stamped as a leader's pool connection of `epoch`.
  std::unique_ptr<pqxx::connection> FencedConnection(int64_t epoch) {
    auto conn = std::make_unique<pqxx::connection>(db_.dsn());
    FenceSessions(epoch)(*conn);
    return conn;
  }

  static grpc::Status QueueStatus(const std::shared_ptr<grpc::Channel>& channel) {
    auto stub = v1::AdminService::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + seconds(2));
    v1::QueueStatusRequest req;
    v1::QueueStatusResponse res;
    return stub->QueueStatus(&ctx, req, &res);
  }

  // A lease of one call on an ESI route, through the group's channel; its id.
  static int64_t LeaseId(const std::shared_ptr<grpc::Channel>& channel, const std::string& route) {
    auto stub = v1::ThrottlerService::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + seconds(2));
    v1::LeaseTokensRequest req;
    req.set_agent_id("agent");
    req.mutable_route()->set_upstream("esi");
    req.mutable_route()->set_route(route);
    req.set_count(1);
    v1::LeaseTokensResponse res;
    grpc::Status s = stub->LeaseTokens(&ctx, req, &res);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return res.lease_id();
  }

  static grpc::health::v1::HealthCheckResponse::ServingStatus Health(int port,
                                                                     const std::string& service) {
    auto channel =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
    auto stub = grpc::health::v1::Health::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + seconds(2));
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    grpc::health::v1::HealthCheckResponse res;
    if (!stub->Check(&ctx, req, &res).ok()) return grpc::health::v1::HealthCheckResponse::UNKNOWN;
    return res.status();
  }

  static bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (std::chrono::steady_clock::now() > until) return false;
      std::this_thread::sleep_for(milliseconds(20));
    }
    return true;
  }

  testing::TestDatabase db_;
  std::atomic<bool> stop_{false};
};

TEST_F(CoordinatorNodeTest, TwoStartedTogetherOneLeadsAndTheOtherStandsBy) {
  auto a = StartNode();
  auto b = StartNode();
  ASSERT_TRUE(a->WaitLeading(seconds(20)) || b->WaitLeading(seconds(1)));
  std::this_thread::sleep_for(milliseconds(800));  // several election rounds
  ASSERT_NE(a->leading(), b->leading()) << "exactly one leads";
  CoordinatorNode* standby = a->leading() ? b.get() : a.get();
  CoordinatorNode* leader = a->leading() ? a.get() : b.get();
  EXPECT_EQ(db_.Count("SELECT epoch FROM sluice_leader"), leader->epoch());

  using Status = grpc::health::v1::HealthCheckResponse;
  EXPECT_EQ(Health(standby->port(), ""), Status::SERVING) << "the process is up";
  EXPECT_EQ(Health(standby->port(), "sluice.v1.AgentService"), Status::NOT_SERVING);
  EXPECT_EQ(Health(standby->port(), "sluice.v1.ThrottlerService"), Status::NOT_SERVING);
  EXPECT_EQ(Health(leader->port(), "sluice.v1.AgentService"), Status::SERVING);
  EXPECT_EQ(Health(standby->port(), kLeaderHealthService), Status::NOT_SERVING);
  EXPECT_EQ(Health(leader->port(), kLeaderHealthService), Status::SERVING);

  // A client that calls the standby directly is told to retry elsewhere.
  grpc::Status direct = QueueStatus(grpc::CreateChannel(absl::StrCat("127.0.0.1:", standby->port()),
                                                        grpc::InsecureChannelCredentials()));
  EXPECT_EQ(direct.error_code(), grpc::StatusCode::UNAVAILABLE) << direct.error_message();
  EXPECT_NE(direct.error_message().find("standby"), std::string::npos) << direct.error_message();
}

TEST_F(CoordinatorNodeTest, AStandbysOpsListenerSaysItIsReadyAndNotTheLeader) {
  // Both on port 0: the standby's ops listener is its own until it leads.
  auto a = StartNode("127.0.0.1:0");
  ASSERT_TRUE(a->WaitLeading(seconds(20)));
  auto b = StartNode("127.0.0.1:0");
  ASSERT_GT(b->ops_port(), 0);
  auto get = [](int port, const std::string& path) {
    httplib::Client http("127.0.0.1", port);
    auto res = http.Get(path.c_str());
    return res ? std::make_pair(res->status, res->body) : std::make_pair(-1, std::string());
  };
  EXPECT_EQ(get(b->ops_port(), "/healthz").first, 200);
  EXPECT_EQ(get(b->ops_port(), "/readyz").first, 200) << "a standby is ready to take over";
  auto standby = get(b->ops_port(), "/metrics");
  EXPECT_NE(standby.second.find("\nsluice_leader 0\n"), std::string::npos) << standby.second;
  auto leader = get(a->ops_port(), "/metrics");
  EXPECT_NE(leader.second.find("\nsluice_leader 1\n"), std::string::npos) << leader.second;
  EXPECT_NE(leader.second.find(absl::StrCat("\nsluice_leader_epoch ", a->epoch(), "\n")),
            std::string::npos);

  a->Shutdown(milliseconds(0));
  ASSERT_TRUE(b->WaitLeading(seconds(5)));
  auto after = get(b->ops_port(), "/metrics");
  EXPECT_NE(after.second.find("\nsluice_leader 1\n"), std::string::npos) << after.second;
}

TEST_F(CoordinatorNodeTest, AChannelToEveryCoordinatorReachesTheLeaderAndFollowsATakeover) {
  auto a = StartNode();
  ASSERT_TRUE(a->WaitLeading(seconds(20)));
  auto b = StartNode();
  ClientOptions client;
  client.target = absl::StrCat("127.0.0.1:", b->port(), ",127.0.0.1:", a->port());
  auto channel = MakeChannel(client);
  // The channel learns each address's health first (a Watch per address).
  const auto t_first = std::chrono::steady_clock::now();
  grpc::Status first;
  while (!(first = QueueStatus(channel)).ok() &&
         std::chrono::steady_clock::now() - t_first < seconds(5)) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  printf("leader: first call through the group's channel after %.3f s\n",
         std::chrono::duration<double>(std::chrono::steady_clock::now() - t_first).count());
  ASSERT_TRUE(first.ok()) << first.error_message();
  for (int i = 0; i < 10; ++i) {
    grpc::Status s = QueueStatus(channel);
    ASSERT_TRUE(s.ok()) << "call " << i << ": " << s.error_message();
  }
  const int64_t first_epoch = a->epoch();
  const int64_t first_lease = LeaseId(channel, "/alliances/");

  const auto t0 = std::chrono::steady_clock::now();
  a->Shutdown(milliseconds(200));  // a clean hand-over: final state, then the lock
  ASSERT_TRUE(b->WaitLeading(seconds(5))) << "the standby took over within 5 s";
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GT(b->epoch(), first_epoch);
  EXPECT_TRUE(WaitFor([&] { return QueueStatus(channel).ok(); }, seconds(5)))
      << "the same channel reaches the new leader";
  const double served =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // A channel first used after the takeover (it meets the old leader's closed port).
  auto fresh = MakeChannel(client);
  const auto t1 = std::chrono::steady_clock::now();
  EXPECT_TRUE(WaitFor([&] { return QueueStatus(fresh).ok(); }, seconds(5)))
      << "a new channel reaches the new leader";
  // Agents may still hold the old leader's leases: the new one's ids carry
  // its epoch and lie above them (throttle::LeaseTable::FirstId).
  const int64_t second_lease = LeaseId(channel, "/corporations/");
  EXPECT_GT(second_lease, first_lease);
  EXPECT_EQ((second_lease >> 40) & ((int64_t{1} << 22) - 1), b->epoch());
  EXPECT_EQ((first_lease >> 40) & ((int64_t{1} << 22) - 1), first_epoch);
  printf("leader: clean hand-over in %.2f s, served again after %.2f s, a new channel in %.2f s\n",
         took, served,
         std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count());
}

TEST_F(CoordinatorNodeTest, ALeaderWhoseLockSessionEndsStopsServingAndAnotherTakesOver) {
  auto a = StartNode();
  ASSERT_TRUE(a->WaitLeading(seconds(20)));
  auto b = StartNode();
  const int port = a->port();
  ClientOptions client;
  client.target = absl::StrCat("127.0.0.1:", a->port(), ",127.0.0.1:", b->port());
  auto channel = MakeChannel(client);
  ASSERT_TRUE(WaitFor([&] { return QueueStatus(channel).ok(); }, seconds(5)));
  db_.Query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
      "WHERE application_name = 'sluice-coordinator leader lock' AND datname = current_database() "
      "AND pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted)");
  // Deposed at the next check (100 ms here): no Sluice call is served by it.
  const auto t0 = std::chrono::steady_clock::now();
  while (a->leading() && std::chrono::steady_clock::now() - t0 < seconds(3)) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_FALSE(a->leading());
  const double deposed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(deposed, 1.0);
  ASSERT_TRUE(b->WaitLeading(seconds(5)) || a->WaitLeading(seconds(1)));
  CoordinatorNode* leader = b->leading() ? b.get() : a.get();
  EXPECT_TRUE(WaitFor([&] { return QueueStatus(channel).ok(); }, seconds(5)))
      << "the group's channel reaches the new leader";
  const double served =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  printf("leader: the group's channel served again %.3f s after the lock session ended\n", served);
  EXPECT_GT(leader->epoch(), 1);
  std::this_thread::sleep_for(milliseconds(300));
  if (b->leading()) {
    grpc::Status s = QueueStatus(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE)
        << "the deposed node stands by: " << s.error_message();
  }
  printf("leader: deposed %.3f s after its lock session ended\n", deposed);
}

TEST_F(CoordinatorNodeTest, ADeposedLeadersLateWriteIsRefused) {
  auto a = StartNode();
  ASSERT_TRUE(a->WaitLeading(seconds(20)));
  const int64_t old_epoch = a->epoch();
  a->Shutdown(milliseconds(0));

  // The old leader's connection, as its pool stamped it, still open.
  auto late = FencedConnection(old_epoch);
  {
    pqxx::work w(*late);
    w.exec("UPDATE system_state SET key = key WHERE false");  // passes: still its epoch
    w.commit();
  }
  auto next = Contender();
  ASSERT_TRUE(next->AcquireLock(stop_).ok());
  auto epoch = next->TakeEpoch();
  ASSERT_TRUE(epoch.ok()) << epoch.status();
  EXPECT_EQ(*epoch, old_epoch + 1);

  try {
    pqxx::work w(*late);
    w.exec("INSERT INTO system_state (key, value) VALUES ('late', '{}')");
    w.commit();
    FAIL() << "a write of epoch " << old_epoch << " was accepted after epoch " << *epoch;
  } catch (const pqxx::sql_error& e) {
    EXPECT_EQ(e.sqlstate(), "SLF01") << e.what();
    absl::Status mapped = PgPool::StatusFromException(e);
    EXPECT_TRUE(absl::IsUnavailable(mapped)) << mapped;
  }
  EXPECT_EQ(db_.Count("SELECT count(*) FROM system_state WHERE key = 'late'"), 0);
  // The new epoch writes; so does a connection that is no coordinator's.
  auto current = FencedConnection(*epoch);
  {
    pqxx::work w(*current);
    w.exec("INSERT INTO system_state (key, value) VALUES ('current', '{}')");
    w.commit();
  }
  db_.Query("INSERT INTO system_state (key, value) VALUES ('operator', '{}') RETURNING key");
  EXPECT_EQ(db_.Count("SELECT count(*) FROM system_state WHERE key IN ('current', 'operator')"), 2);
}

TEST_F(CoordinatorNodeTest, TakingAnEpochWaitsForTheOldLeadersOpenTransaction) {
  auto a = StartNode();
  ASSERT_TRUE(a->WaitLeading(seconds(20)));
  const int64_t old_epoch = a->epoch();
  a->Shutdown(milliseconds(0));

  auto late = FencedConnection(old_epoch);
  auto open = std::make_unique<pqxx::work>(*late);
  open->exec("INSERT INTO system_state (key, value) VALUES ('in-flight', '{}')");

  auto next = Contender();
  ASSERT_TRUE(next->AcquireLock(stop_).ok());
  auto taking = std::async(std::launch::async, [&] { return next->TakeEpoch(); });
  EXPECT_EQ(taking.wait_for(milliseconds(500)), std::future_status::timeout)
      << "the bump waits while a transaction that passed the old fence is open";
  open->commit();  // it finishes first, so its write stands
  open.reset();
  auto epoch = taking.get();
  ASSERT_TRUE(epoch.ok()) << epoch.status();
  EXPECT_EQ(db_.Count("SELECT count(*) FROM system_state WHERE key = 'in-flight'"), 1);

  // One that hangs longer than 2 s is ended instead.
  auto late2 = FencedConnection(*epoch);
  auto hung = std::make_unique<pqxx::work>(*late2);
  hung->exec("INSERT INTO system_state (key, value) VALUES ('hung', '{}')");
  next->Resign();
  auto third = Contender();
  ASSERT_TRUE(third->AcquireLock(stop_).ok());
  const auto t0 = std::chrono::steady_clock::now();
  auto epoch3 = third->TakeEpoch();
  ASSERT_TRUE(epoch3.ok()) << epoch3.status();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, seconds(6));
  EXPECT_THROW(hung->commit(), std::exception);
  EXPECT_EQ(db_.Count("SELECT count(*) FROM system_state WHERE key = 'hung'"), 0);
}

}  // namespace
}  // namespace sluice
