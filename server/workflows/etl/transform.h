// Transform is one silver/gold transform as the runner (poe_transforms.h)
// drives it: the raw table it reads, the checkpoint that says how far it got,
// and Apply, which reads a batch of raw rows, folds them (a pure function of
// the rows and the silver state they touch; see each transform's header) and
// writes what they produce. The runner owns the transaction and the
// checkpoint; a transform never touches its checkpoint.
//
// Thread-safety: implementations are stateless; safe from any thread (each
// call uses the caller's transaction).
#ifndef SLUICE_SERVER_WORKFLOWS_ETL_TRANSFORM_H_
#define SLUICE_SERVER_WORKFLOWS_ETL_TRANSFORM_H_

#include <pqxx/pqxx>

#include <cstdint>

#include "absl/status/statusor.h"

namespace sluice::etl {

// What one batch of a transform did.
struct Applied {
  int64_t last_raw_id = 0;  // 0: no rows
  int64_t raw_rows = 0;
  int64_t written = 0;  // silver/gold rows inserted, updated or deleted
};

class Transform {
 public:
  virtual ~Transform() = default;

  // Its checkpoint's stream, "etl:<name>".
  virtual const char* name() const = 0;
  // LIKE pattern of the streams whose writers fill its raw table (they hold
  // their checkpoint row FOR UPDATE while they insert).
  virtual const char* writers_like() const = 0;
  // max(raw_id) of its raw table, 0 if empty.
  virtual int64_t MaxRawId(pqxx::dbtransaction& txn) const = 0;
  // Reads the raw rows in (after, up_to] in raw_id order, at most `limit`,
  // and writes what they produce.
  virtual absl::StatusOr<Applied> Apply(pqxx::dbtransaction& txn, int64_t after, int64_t up_to,
                                        int limit) const = 0;
};

}  // namespace sluice::etl

#endif  // SLUICE_SERVER_WORKFLOWS_ETL_TRANSFORM_H_
