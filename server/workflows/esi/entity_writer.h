// EntityWriter upserts entity records (alliances, corporations, characters)
// into their static and ephemeral tables, inside the caller's transaction.
// Each record type is written with one statement per table (rows passed as
// one JSON parameter), whatever the batch size.
//
// Thread-safety: stateless; the transaction is the caller's.
#ifndef SLUICE_SERVER_WORKFLOWS_ESI_ENTITY_WRITER_H_
#define SLUICE_SERVER_WORKFLOWS_ESI_ENTITY_WRITER_H_

#include <pqxx/pqxx>

#include <vector>

#include "common/clock.h"
#include "sluice/v1/entities.pb.h"

namespace sluice {

// Returns the number of records written. `now` becomes last_modified.
int WriteEntityRecords(pqxx::dbtransaction& txn, const std::vector<v1::EntityRecord>& records,
                       TimePoint now);

}  // namespace sluice

#endif  // SLUICE_SERVER_WORKFLOWS_ESI_ENTITY_WRITER_H_
