#include "server/scheduler/job_lock.h"

#include <glog/logging.h>

#include "server/scheduler/scheduler_sql.h"
#include "server/store/lock_keys.h"
#include "server/store/pg_pool.h"

namespace sluice {

JobLock::JobLock(State state, absl::Status error, std::unique_ptr<pqxx::connection> conn,
                 std::string job_name)
    : state_(state),
      error_(std::move(error)),
      conn_(std::move(conn)),
      job_name_(std::move(job_name)) {}

JobLock::JobLock(JobLock&& other) noexcept
    : state_(other.state_),
      error_(std::move(other.error_)),
      conn_(std::move(other.conn_)),
      job_name_(std::move(other.job_name_)) {}

JobLock& JobLock::operator=(JobLock&& other) noexcept {
  if (this != &other) {
    Release().IgnoreError();
    state_ = other.state_;
    error_ = std::move(other.error_);
    conn_ = std::move(other.conn_);
    job_name_ = std::move(other.job_name_);
  }
  return *this;
}

JobLock::~JobLock() {
  absl::Status s = Release();
  if (!s.ok()) LOG(WARNING) << "job lock " << job_name_ << ": " << s;
}

JobLock JobLock::TryAcquire(const std::string& dsn, const std::string& job_name,
                            std::chrono::seconds connect_timeout) {
  std::unique_ptr<pqxx::connection> conn;
  try {
    conn = std::make_unique<pqxx::connection>(DsnWithConnectTimeout(dsn, connect_timeout));
    pqxx::nontransaction nt(*conn);
    const bool got =
        nt.exec_params1(scheduler_sql::kTryLock, lock_keys::kJobClass, job_name)[0].as<bool>();
    if (!got) {
      // Nothing to release: close the connection now rather than keep it.
      conn.reset();
      return JobLock(State::kBusy, absl::OkStatus(), nullptr, job_name);
    }
    return JobLock(State::kHeld, absl::OkStatus(), std::move(conn), job_name);
  } catch (const std::exception& e) {
    // Any failure means we do not know who holds the lock: fail closed.
    absl::Status s = PgPool::StatusFromException(e);
    if (!absl::IsUnavailable(s)) {
      s = absl::UnavailableError("job lock not checked: " + std::string(s.message()));
    }
    return JobLock(State::kUnavailable, std::move(s), nullptr, job_name);
  }
}

absl::Status JobLock::Release() {
  // Only a held lock keeps its connection; moved-from and released locks
  // have none.
  if (!conn_) return absl::OkStatus();
  absl::Status status;
  try {
    pqxx::nontransaction nt(*conn_);
    if (!nt.exec_params1(scheduler_sql::kUnlock, lock_keys::kJobClass, job_name_)[0].as<bool>()) {
      status = absl::InternalError("pg_advisory_unlock found no lock held by this session");
    }
  } catch (const std::exception& e) {
    status = PgPool::StatusFromException(e);
  }
  // Closing the session drops any advisory lock it still holds, so the lock
  // is gone whatever the unlock statement did.
  conn_.reset();
  return status;
}

}  // namespace sluice
