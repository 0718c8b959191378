// A database outage surfaces as UNAVAILABLE and the pool recovers by itself
// when the database returns.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "server/store/pg_pool.h"
#include "tests/support/tcp_proxy.h"
#include "tests/support/test_database.h"

namespace sluice::testing {
namespace {

absl::Status Ping(PgPool& pool) {
  return pool.Run([](pqxx::connection& c) {
    pqxx::nontransaction nt(c);
    nt.exec("SELECT 1");
    return absl::OkStatus();
  });
}

TEST(PgPoolTest, OutageIsUnavailableAndRecovers) {
  TestDatabase db;
  auto [host, port] = DsnHostPort(db.dsn());
  TcpProxy proxy(host, port);
  PgPool::Options o;
  o.dsn = DsnWithHostPort(db.dsn(), "127.0.0.1", proxy.port());
  o.size = 2;
  PgPool pool(o);
  ASSERT_TRUE(Ping(pool).ok());

  proxy.SetUp(false);
  absl::Status down = Ping(pool);
  EXPECT_EQ(down.code(), absl::StatusCode::kUnavailable) << down;
  EXPECT_EQ(Ping(pool).code(), absl::StatusCode::kUnavailable) << "reconnect should fail too";

  proxy.SetUp(true);
  EXPECT_TRUE(Ping(pool).ok());
}

TEST(PgPoolTest, AnIdleConnectionTheServerClosedIsReplacedNotUsed) {
  // A server restart or a proxy in between closes pooled connections while
  // they idle; the next caller must get a working one, not the dead one.
  TestDatabase db;
  PgPool::Options o;
  o.dsn = db.dsn();
  o.size = 1;
  PgPool pool(o);
  auto backend = [&](int* pid) {
    return pool.Run([&](pqxx::connection& c) {
      pqxx::nontransaction nt(c);
      *pid = nt.exec("SELECT pg_backend_pid()")[0][0].as<int>();
      return absl::OkStatus();
    });
  };
  int first = 0;
  ASSERT_TRUE(backend(&first).ok());
  ASSERT_EQ(db.Query("SELECT pg_terminate_backend(" + std::to_string(first) + ")"), "t");
  for (int i = 0; i < 100; ++i) {
    if (db.Query("SELECT count(*) FROM pg_stat_activity WHERE pid = " + std::to_string(first)) ==
        "0") {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  int second = 0;
  absl::Status s = backend(&second);
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_NE(second, first);
}

TEST(PgPoolTest, SqlErrorsAreInternalAndKeepTheConnection) {
  TestDatabase db;
  PgPool::Options o;
  o.dsn = db.dsn();
  o.size = 1;
  PgPool pool(o);
  absl::Status s = pool.Run([](pqxx::connection& c) {
    pqxx::work w(c);
    w.exec("SELECT * FROM no_such_table");
    return absl::OkStatus();
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_NE(s.message().find("42P01"), std::string::npos) << s;
  EXPECT_TRUE(Ping(pool).ok());
  EXPECT_EQ(pool.open_connections(), 1);
}

TEST(PgPoolTest, ADeadlockIsAbortedNamingItsSqlstate) {
  TestDatabase db;
  PgPool::Options o;
  o.dsn = db.dsn();
  o.size = 2;
  PgPool pool(o);
  ASSERT_TRUE(pool.Run([](pqxx::connection& c) {
                    pqxx::nontransaction nt(c);
                    nt.exec("CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1), (2)");
                    return absl::OkStatus();
                  })
                  .ok());
  // Two transactions lock the same two rows in opposite orders.
  std::atomic<int> first_locks{0};
  auto cross = [&](int a, int b) {
    return pool.Run([&, a, b](pqxx::connection& c) {
      pqxx::work w(c);
      w.exec("UPDATE t SET id = id WHERE id = " + std::to_string(a));
      ++first_locks;
      while (first_locks < 2) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      w.exec("UPDATE t SET id = id WHERE id = " + std::to_string(b));
      w.commit();
      return absl::OkStatus();
    });
  };
  absl::Status s1, s2;
  std::thread t([&] { s1 = cross(1, 2); });
  s2 = cross(2, 1);
  t.join();
  // PostgreSQL breaks the deadlock by aborting one of them.
  const absl::Status& aborted = s1.ok() ? s2 : s1;
  EXPECT_TRUE(s1.ok() != s2.ok()) << s1 << " / " << s2;
  EXPECT_EQ(aborted.code(), absl::StatusCode::kAborted) << aborted;
  EXPECT_NE(aborted.message().find("transaction conflict (40P01)"), std::string::npos) << aborted;
}

}  // namespace
}  // namespace sluice::testing
