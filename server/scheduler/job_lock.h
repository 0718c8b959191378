// JobLock keeps two runs of one job from overlapping, across any number of
// coordinators: a session-level PostgreSQL advisory lock taken on a dedicated
// connection opened for the run. Releasing unlocks and closes that
// connection; PostgreSQL also drops a session's advisory locks when the
// session ends, so a coordinator that crashes mid-run leaves no lock behind.
//
// The connection is dedicated (not borrowed from PgPool) because a session
// lock belongs to the connection: a pooled connection would carry the lock
// into whatever request borrows it next.
//
// Fails closed: if the lock cannot be checked (connect or query error) the
// result is kUnavailable and the caller must not run the job.
//
// Ownership: owns its connection. Movable, not copyable; the destructor
// releases. Thread-safety: one JobLock is used by one thread.
#ifndef SLUICE_SERVER_SCHEDULER_JOB_LOCK_H_
#define SLUICE_SERVER_SCHEDULER_JOB_LOCK_H_

#include <pqxx/pqxx>

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "server/store/pg_pool.h"  // DsnWithConnectTimeout

namespace sluice {

class JobLock {
 public:
  enum class State {
    kHeld,         // this run holds the lock
    kBusy,         // another session (run) holds it
    kUnavailable,  // could not be checked: do not run
  };

  // Opens a connection to dsn (giving up after connect_timeout) and tries
  // the lock of job_name without waiting.
  static JobLock TryAcquire(const std::string& dsn, const std::string& job_name,
                            std::chrono::seconds connect_timeout = std::chrono::seconds(5));

  JobLock(JobLock&&) noexcept;
  JobLock& operator=(JobLock&&) noexcept;
  JobLock(const JobLock&) = delete;
  JobLock& operator=(const JobLock&) = delete;
  ~JobLock();

  // The result of TryAcquire; unchanged by Release.
  State state() const { return state_; }
  // Held and not yet released.
  bool held() const { return state_ == State::kHeld && conn_ != nullptr; }
  // Why the lock could not be checked (kUnavailable); OK otherwise.
  const absl::Status& error() const { return error_; }

  // Unlocks and closes the connection. The lock is gone afterwards even if
  // the unlock statement fails (closing the session drops it); the status
  // only reports whether the explicit unlock worked. Idempotent.
  absl::Status Release();

 private:
  JobLock(State state, absl::Status error, std::unique_ptr<pqxx::connection> conn,
          std::string job_name);

  State state_;
  absl::Status error_;
  std::unique_ptr<pqxx::connection> conn_;
  std::string job_name_;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_SCHEDULER_JOB_LOCK_H_
