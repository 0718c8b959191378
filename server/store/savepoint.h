// Savepoint isolates part of a transaction so that an SQL error inside it
// (a constraint a poison record violates) can be rolled back without losing
// the rest of the transaction. It issues SAVEPOINT / RELEASE / ROLLBACK TO
// directly: libpqxx 6.4's subtransaction does not roll back to its savepoint
// after a failed statement, which leaves the outer transaction aborted.
//
// Usage:
//   Savepoint sp(txn, "payload");
//   try { ...; sp.Release(); } catch (const pqxx::sql_error&) { sp.RollBack(); }
// A Savepoint neither released nor rolled back rolls back when destroyed.
//
// Thread-safety: as the transaction it wraps (one thread).
#ifndef SLUICE_SERVER_STORE_SAVEPOINT_H_
#define SLUICE_SERVER_STORE_SAVEPOINT_H_

#include <glog/logging.h>

#include <pqxx/pqxx>
#include <string>

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

}  // namespace sluice

#endif  // SLUICE_SERVER_STORE_SAVEPOINT_H_
