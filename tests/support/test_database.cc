#include "tests/support/test_database.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <pqxx/pqxx>
#include <random>
#include <thread>

namespace sluice::testing {

std::string AdminDsn() {
  const char* dsn = std::getenv("SLUICE_PG_ADMIN_DSN");
  if (dsn == nullptr || *dsn == '\0') {
    ADD_FAILURE() << "SLUICE_PG_ADMIN_DSN is not set: run the suite through scripts/test.sh, "
                     "which starts a throwaway PostgreSQL cluster";
    std::abort();
  }
  return dsn;
}

TestDatabase::TestDatabase() : admin_dsn_(AdminDsn()) {
  static std::atomic<int> counter{0};
  std::random_device rd;
  name_ = "sluice_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" +
          std::to_string(rd() % 100000);
  pqxx::connection admin(admin_dsn_);
  pqxx::nontransaction nt(admin);
  nt.exec("CREATE DATABASE " + nt.quote_name(name_));
  // Replace (or append) dbname in the admin DSN.
  std::string base = admin_dsn_;
  auto pos = base.find("dbname=");
  if (pos != std::string::npos) {
    auto end = base.find(' ', pos);
    base.erase(pos, end == std::string::npos ? std::string::npos : end - pos);
  }
  dsn_ = base + " dbname=" + name_;
}

TestDatabase::~TestDatabase() {
  try {
    pqxx::connection admin(admin_dsn_);
    pqxx::nontransaction nt(admin);
    nt.exec_params("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                   name_);
    nt.exec("DROP DATABASE IF EXISTS " + nt.quote_name(name_));
  } catch (const std::exception& e) {
    // Leaving a database behind on a throwaway cluster is harmless.
    fprintf(stderr, "warning: could not drop %s: %s\n", name_.c_str(), e.what());
  }
}

std::string TestDatabase::Query(const std::string& sql) const {
  pqxx::connection conn(dsn_);
  pqxx::nontransaction nt(conn);
  auto res = nt.exec(sql);
  if (res.empty() || res[0][0].is_null()) return "";
  return res[0][0].c_str();
}

void TestDatabase::KillConnections() const {
  pqxx::connection admin(admin_dsn_);
  pqxx::nontransaction nt(admin);
  nt.exec_params(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
      "WHERE datname = $1 AND pid <> pg_backend_pid()",
      name_);
}

bool TestDatabase::AwaitLockWait(const std::atomic<int>& pid, const std::atomic<bool>& done) const {
  pqxx::connection probe(dsn_);
  for (int i = 0; i < 500 && !done; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (pid == 0) continue;
    pqxx::nontransaction nt(probe);
    if (!nt.exec_params(
               "SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'",
               pid.load())
             .empty()) {
      return true;
    }
  }
  return false;
}

}  // namespace sluice::testing
