// TestDatabase gives a test its own empty PostgreSQL database on the
// throwaway cluster that scripts/test.sh starts (SLUICE_PG_ADMIN_DSN), and
// drops it afterwards. Tests never touch a database they did not create.
// Without SLUICE_PG_ADMIN_DSN the test fails loudly rather than skipping: a
// suite that silently skips its database tests proves nothing.
#ifndef SLUICE_TESTS_SUPPORT_TEST_DATABASE_H_
#define SLUICE_TESTS_SUPPORT_TEST_DATABASE_H_

#include <atomic>
#include <string>

namespace sluice::testing {

class TestDatabase {
 public:
  TestDatabase();
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  // libpq DSN of the new database.
  const std::string& dsn() const { return dsn_; }
  const std::string& name() const { return name_; }

  // Runs SQL on the test database and returns the first column of the first
  // row as text ("" if no row). For assertions.
  std::string Query(const std::string& sql) const;
  int64_t Count(const std::string& sql) const { return std::stoll(Query(sql)); }

  // Ends every session on the database except ours (simulates a restart /
  // outage of the server from the clients' point of view).
  void KillConnections() const;

  // For tests of lock order: polls until the session whose backend pid is
  // `pid` (0 until the test's thread has connected) waits for a lock, and
  // returns true then; false once `done` is true or 5 s have passed.
  bool AwaitLockWait(const std::atomic<int>& pid, const std::atomic<bool>& done) const;

 private:
  std::string admin_dsn_;
  std::string name_;
  std::string dsn_;
};

// The admin DSN from the environment; aborts the test with a clear message
// if it is missing.
std::string AdminDsn();

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_SUPPORT_TEST_DATABASE_H_
