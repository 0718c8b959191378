#include "server/store/pg_pool.h"

#include <glog/logging.h>
#include <poll.h>

#include <algorithm>
#include <string_view>

#include "server/store/pg_redact.h"

namespace sluice {
namespace {

// An idle connection has nothing to read: the server speaks only when asked.
// Readable means the peer closed it (or a proxy in between did) or the
// server sent a termination notice; either way the next statement on it
// would fail, so the pool opens a fresh one instead. No round trip.
bool LooksClosed(const pqxx::connection& conn) {
  const int fd = conn.sock();
  if (fd < 0) return true;
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) != 0;
}

}  // namespace

PgPool::PgPool(Options options) : options_(std::move(options)) {
  options_.dsn = DsnWithConnectTimeout(options_.dsn, options_.connect_timeout);
}

PgPool::~PgPool() = default;

int PgPool::open_connections() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(idle_.size()) + borrowed_;
}

absl::StatusOr<std::unique_ptr<pqxx::connection>> PgPool::Checkout() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    bool ok = cv_.wait_for(lock, options_.checkout_timeout, [&] {
      return !idle_.empty() || borrowed_ + static_cast<int>(idle_.size()) < options_.size;
    });
    if (!ok) return absl::UnavailableError("timed out waiting for a database connection");
    ++borrowed_;
    while (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      if (!LooksClosed(*conn)) return conn;
      LOG(WARNING) << "dropping a pooled database connection the server closed";
    }
  }
  // Open outside the lock: connecting can take a while when the server is slow.
  try {
    auto conn = std::make_unique<pqxx::connection>(options_.dsn);
    if (options_.on_connect) options_.on_connect(*conn);
    return conn;
  } catch (const std::exception& e) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      --borrowed_;
    }
    cv_.notify_one();
    return absl::UnavailableError("cannot connect to PostgreSQL: " + RedactPgMessage(e.what()));
  }
}

void PgPool::Return(std::unique_ptr<pqxx::connection> conn, bool broken) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    --borrowed_;
    if (!broken && conn->is_open()) idle_.push_back(std::move(conn));
  }
  cv_.notify_one();
}

absl::Status PgPool::StatusFromException(const std::exception& e) {
  std::string what = RedactPgMessage(e.what());
  while (!what.empty() && (what.back() == '\n' || what.back() == ' ')) what.pop_back();
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr ||
      dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) {
    return absl::UnavailableError("database unavailable: " + what);
  }
  // libpqxx 6 throws the class-40 conflicts outside sql_error, without their
  // SQLSTATE: a deadlock once surfaced as INTERNAL with the server's raw text
  // and was never retried.
  if (dynamic_cast<const pqxx::deadlock_detected*>(&e) != nullptr) {
    return absl::AbortedError("transaction conflict (40P01), retry: " + what);
  }
  if (dynamic_cast<const pqxx::serialization_failure*>(&e) != nullptr) {
    return absl::AbortedError("transaction conflict (40001), retry: " + what);
  }
  if (dynamic_cast<const pqxx::statement_completion_unknown*>(&e) != nullptr) {
    return absl::UnavailableError("database unavailable (statement outcome unknown): " + what);
  }
  if (dynamic_cast<const pqxx::transaction_rollback*>(&e) != nullptr) {
    return absl::AbortedError("transaction conflict (40000), retry: " + what);
  }
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const std::string& state = sql->sqlstate();
    // Class 08: connection exceptions; 57P0x: server shutting down / crash
    // recovery; 53300: too many connections. All pass when the server returns.
    if (state.rfind("08", 0) == 0 || state.rfind("57P0", 0) == 0 || state == "53300") {
      return absl::UnavailableError("database unavailable: " + what);
    }
    // 0015_leader.sql's fence: another coordinator leads now. Retryable, so
    // a caller (an agent with a result) tries again and reaches the leader.
    if (state == "SLF01") return absl::UnavailableError("not the leader: " + what);
    if (state == "40001" || state == "40P01") {
      return absl::AbortedError("transaction conflict (" + state + "), retry: " + what);
    }
    return absl::InternalError("database error (" + state + "): " + what);
  }
  return absl::InternalError(what);
}

absl::Status PgPool::Run(const std::function<absl::Status(pqxx::connection&)>& fn) {
  auto conn_or = Checkout();
  if (!conn_or.ok()) return conn_or.status();
  std::unique_ptr<pqxx::connection> conn = std::move(*conn_or);
  absl::Status status;
  bool broken = false;
  try {
    status = fn(*conn);
  } catch (const std::exception& e) {
    status = StatusFromException(e);
    broken = absl::IsUnavailable(status) || !conn->is_open();
  }
  if (broken) LOG(WARNING) << "dropping database connection: " << status;
  // Deadlocks and serialisation failures are retried by the caller where it
  // can (conflict_retry.h); each is still worth a line: they mean two
  // transactions locked the same rows in different orders.
  if (absl::IsAborted(status)) LOG(WARNING) << status;
  Return(std::move(conn), broken);
  return status;
}

std::string DsnWithParam(const std::string& dsn, const std::string& key, const std::string& value) {
  if (dsn.find(key + "=") != std::string::npos) return dsn;
  if (dsn.rfind("postgres://", 0) == 0 || dsn.rfind("postgresql://", 0) == 0) {
    return dsn + (dsn.find('?') == std::string::npos ? "?" : "&") + key + "=" + value;
  }
  return dsn + (dsn.empty() ? "" : " ") + key + "=" + value;
}

std::string DsnWithConnectTimeout(const std::string& dsn, std::chrono::seconds timeout) {
  return DsnWithParam(dsn, "connect_timeout",
                      std::to_string(std::max<int64_t>(1, timeout.count())));
}

std::string PgArray(const std::vector<int64_t>& ids) {
  std::string out = "{";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(ids[i]);
  }
  out += '}';
  return out;
}

std::string PgTextArray(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

}  // namespace sluice
