// Savepoint isolates part of a transaction so that an SQL error inside it
// (a constraint a poison record violates) can be rolled back without losing
// the rest of the transaction. It issues SAVEPOINT / RELEASE / ROLLBACK TO
// directly: libpqxx 6.4's subtransaction does not roll back to its savepoint
// after a failed statement, which leaves the outer transaction aborted.
//
// UnderSavepoint is the one way to run a piece of work so: its writes stay
// when it returns OK; they are undone when it returns an error, or when the
// database refuses its data (a constraint, a bad value: INVALID_ARGUMENT with
// the SQLSTATE and a bounded part of the server's message); any other SQL
// error undoes them too (INTERNAL). A deadlock or serialisation failure
// (SQLSTATE class 40) and a lost connection are rethrown: they abort the
// whole transaction, which its owner retries (conflict_retry.h) — recording
// them as the work's own failure would turn a collision into "poison".
//
// Thread-safety: as the transaction it wraps (one thread).
#ifndef SLUICE_SERVER_STORE_SAVEPOINT_H_
#define SLUICE_SERVER_STORE_SAVEPOINT_H_

#include <glog/logging.h>

#include <pqxx/pqxx>
#include <string>
#include <type_traits>

#include "absl/status/statusor.h"

namespace sluice {

class Savepoint {
 public:
  // `name` must be a plain SQL identifier (a constant, never input).
  Savepoint(pqxx::dbtransaction& txn, std::string name) : txn_(txn), name_(std::move(name)) {
    txn_.exec("SAVEPOINT " + name_);
  }
  ~Savepoint() {
    if (done_) return;
    try {
      RollBack();
    } catch (const std::exception& e) {
      LOG(ERROR) << "rolling back to savepoint " << name_ << " failed: " << e.what();
    }
  }
  Savepoint(const Savepoint&) = delete;
  Savepoint& operator=(const Savepoint&) = delete;

  // Keeps what was done since the savepoint.
  void Release() {
    done_ = true;
    txn_.exec("RELEASE SAVEPOINT " + name_);
  }
  // Undoes what was done since the savepoint; the transaction goes on.
  void RollBack() {
    done_ = true;
    txn_.exec("ROLLBACK TO SAVEPOINT " + name_);
    txn_.exec("RELEASE SAVEPOINT " + name_);
  }

 private:
  pqxx::dbtransaction& txn_;
  const std::string name_;
  bool done_ = false;
};

// True for the SQLSTATEs that say "another transaction got in the way":
// deadlocks and serialisation failures (class 40).
inline bool IsConflict(const pqxx::sql_error& e) { return e.sqlstate().rfind("40", 0) == 0; }

// The status for an SQL error the work's own data caused (class 22 data
// exceptions, class 23 integrity constraints) or not (anything else).
absl::Status SqlErrorStatus(const pqxx::sql_error& e, const std::string& what);

// Runs `fn` (returning absl::Status or absl::StatusOr<T>) under a savepoint;
// see the file comment.
template <typename Fn>
auto UnderSavepoint(pqxx::dbtransaction& txn, const char* name, const std::string& what, Fn&& fn)
    -> decltype(fn()) {
  using Result = decltype(fn());
  Savepoint sp(txn, name);
  Result result = absl::InternalError("not run");
  try {
    result = fn();
  } catch (const pqxx::broken_connection&) {
    throw;
  } catch (const pqxx::transaction_rollback&) {
    throw;  // libpqxx 6's class-40 conflicts (not sql_errors): the owner retries
  } catch (const pqxx::sql_error& e) {
    if (IsConflict(e)) throw;
    result = SqlErrorStatus(e, what);
  }
  if (result.ok()) {
    sp.Release();
  } else {
    sp.RollBack();
  }
  return result;
}

}  // namespace sluice

#endif  // SLUICE_SERVER_STORE_SAVEPOINT_H_
