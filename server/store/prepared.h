// ExecPrepared runs a statement as a prepared statement of the transaction's
// connection: the server parses and plans it at its first use on each
// connection (libpqxx prepares it lazily then, and again on a new
// connection); later calls only bind and execute.
//
// For statements a hot path runs many times with the same text and whose
// best plan does not depend on the size of the tables they read: after five
// executions PostgreSQL may keep a generic plan for the statement, chosen
// with the statistics of that moment. A statement that finds rows by
// joining parameters with a table that grows (discovery_queue) stays with
// exec_params, planned per call.
//
// Thread-safety: as the transaction's (one thread).
#ifndef SLUICE_SERVER_STORE_PREPARED_H_
#define SLUICE_SERVER_STORE_PREPARED_H_

#include <pqxx/pqxx>

#include <string>
#include <utility>

namespace sluice {

// `name` must stand for one text only (libpqxx refuses a redefinition).
template <typename... Args>
pqxx::result ExecPrepared(pqxx::transaction_base& tx, const std::string& name,
                          const std::string& sql, Args&&... args) {
  tx.conn().prepare(name, sql);
  return tx.exec_prepared(name, std::forward<Args>(args)...);
}

}  // namespace sluice

#endif  // SLUICE_SERVER_STORE_PREPARED_H_
