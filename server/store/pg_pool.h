// PgPool hands out PostgreSQL connections to request threads. libpqxx
// connections are not thread-safe, so each request borrows one for the length
// of its transaction.
//
// A connection that breaks is discarded and a new one is opened on the next
// checkout, so the coordinator recovers by itself when the database returns.
// Database errors become absl statuses: connection loss and server shutdown
// are UNAVAILABLE (retryable); anything else is INTERNAL with the server's
// message. Messages about connecting never reach a status as libpq wrote them:
// they name the host and user (pg_redact.h).
//
// Thread-safety: all methods are safe from any thread. A Lease must not be
// shared between threads.
#ifndef SLUICE_SERVER_STORE_PG_POOL_H_
#define SLUICE_SERVER_STORE_PG_POOL_H_

#include <pqxx/pqxx>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sluice {

class PgPool {
 public:
  struct Options {
    std::string dsn;
    int size = 8;
    // How long a checkout waits for a free connection before UNAVAILABLE.
    std::chrono::milliseconds checkout_timeout{5000};
    // Applied to the DSN unless it sets connect_timeout itself.
    std::chrono::seconds connect_timeout{5};
    // Called on every new connection (prepare statements, set GUCs).
    std::function<void(pqxx::connection&)> on_connect;
  };

  explicit PgPool(Options options);
  ~PgPool();
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  // Runs fn with a connection. Exceptions from libpqxx are mapped to statuses;
  // a broken connection is dropped. fn returns the status of its own work.
  absl::Status Run(const std::function<absl::Status(pqxx::connection&)>& fn);

  // Maps an exception thrown by libpqxx (or fn) to a status.
  static absl::Status StatusFromException(const std::exception& e);

  // Connections currently open (idle + borrowed).
  int open_connections() const;

 private:
  absl::StatusOr<std::unique_ptr<pqxx::connection>> Checkout();
  void Return(std::unique_ptr<pqxx::connection> conn, bool broken);

  Options options_;  // dsn completed with connect_timeout; fixed after construction
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  int borrowed_ = 0;
};

// The DSN with libpq's connect_timeout set (key=value or URI form), unless
// it already has one: an unreachable database must fail a request (or a job
// lock check) quickly, not hang it for the kernel's TCP timeout.
std::string DsnWithConnectTimeout(const std::string& dsn, std::chrono::seconds timeout);
// The DSN with libpq parameter `key` set to `value` (key=value or URI form),
// unless the DSN sets it already: what the operator wrote wins.
std::string DsnWithParam(const std::string& dsn, const std::string& key, const std::string& value);

// Formats ids as a PostgreSQL array literal, for `$n::bigint[]` parameters.
std::string PgArray(const std::vector<int64_t>& ids);
// Formats strings as a PostgreSQL text[] literal, quoting every element.
std::string PgTextArray(const std::vector<std::string>& items);

}  // namespace sluice

#endif  // SLUICE_SERVER_STORE_PG_POOL_H_
