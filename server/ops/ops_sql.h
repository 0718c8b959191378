// The ops snapshot's own statements by name (CollectOpsSnapshot). Queue
// depth, jobs and budgets come through their owners' APIs; only the stream
// checkpoints are read here.
#ifndef SLUICE_SERVER_OPS_OPS_SQL_H_
#define SLUICE_SERVER_OPS_OPS_SQL_H_

namespace sluice::ops_sql {

// The checkpoints table belongs to the streams module; before its migration
// there is nothing to show.
inline constexpr char kCheckpointsExist[] = "SELECT to_regclass('checkpoints') IS NOT NULL";

// $1 now.
inline constexpr char kCheckpoints[] = R"sql(
SELECT stream, cursor, EXTRACT(EPOCH FROM ($1::timestamptz - updated_at)), pages, rows
  FROM checkpoints ORDER BY stream)sql";

}  // namespace sluice::ops_sql

#endif  // SLUICE_SERVER_OPS_OPS_SQL_H_
