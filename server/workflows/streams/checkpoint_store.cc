#include "server/workflows/streams/checkpoint_store.h"

#include "common/time_util.h"
#include "server/store/pg_pool.h"

namespace sluice::streams {

bool CheckpointStore::Ensure(pqxx::dbtransaction& txn, const std::string& stream,
                             const std::string& initial_cursor, TimePoint now) {
  auto res = txn.exec_params(
      "INSERT INTO checkpoints (stream, cursor, updated_at, created_at) "
      "VALUES ($1, $2, $3::timestamptz, $3::timestamptz) ON CONFLICT (stream) DO NOTHING "
      "RETURNING stream",
      stream, initial_cursor, FormatRfc3339(now));
  return !res.empty();
}

std::map<std::string, std::string> CheckpointStore::Cursors(
    pqxx::dbtransaction& txn, const std::vector<std::string>& streams) {
  std::map<std::string, std::string> out;
  for (const auto& row : txn.exec_params(
           "SELECT stream, cursor FROM checkpoints WHERE stream = ANY($1::text[])",
           PgTextArray(streams))) {
    out[row[0].c_str()] = row[1].c_str();
  }
  return out;
}

std::optional<Checkpoint> CheckpointStore::Lock(pqxx::dbtransaction& txn,
                                                const std::string& stream) {
  auto res = txn.exec_params(
      "SELECT cursor, to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') "
      "FROM checkpoints WHERE stream = $1 FOR UPDATE",
      stream);
  if (res.empty()) return std::nullopt;
  return Checkpoint{stream, res[0][0].c_str(), res[0][1].c_str()};
}

void CheckpointStore::Advance(pqxx::dbtransaction& txn, const std::string& stream,
                              const std::string& from, const std::string& to, int64_t rows,
                              bool page_with_data, const std::string& agent_id, TimePoint now) {
  const std::string at = FormatRfc3339(now);
  txn.exec_params(
      "UPDATE checkpoints SET cursor = $2, updated_at = $3::timestamptz, "
      "polled_at = $3::timestamptz, pages = pages + $4, rows = rows + $5, "
      "empty_polls = empty_polls + $6 WHERE stream = $1",
      stream, to, at, page_with_data ? 1 : 0, rows, page_with_data ? 0 : 1);
  txn.exec_params(
      "INSERT INTO checkpoint_transitions (stream, from_cursor, to_cursor, rows, agent_id, "
      "accepted, reason, at) VALUES ($1, $2, $3, $4, NULLIF($5, ''), true, NULL, $6::timestamptz)",
      stream, from, to, rows, agent_id, at);
}

void CheckpointStore::RecordPoll(pqxx::dbtransaction& txn, const std::string& stream,
                                 bool at_head, int64_t rows, TimePoint now) {
  txn.exec_params(
      "UPDATE checkpoints SET polled_at = $2::timestamptz, "
      "head_at = CASE WHEN $3 THEN $2::timestamptz ELSE head_at END, "
      "empty_polls = empty_polls + CASE WHEN $3 THEN 1 ELSE 0 END, rows = rows + $4 "
      "WHERE stream = $1",
      stream, FormatRfc3339(now), at_head, rows);
}

void CheckpointStore::RecordRejected(pqxx::dbtransaction& txn, const std::string& stream,
                                     const std::string& from, const std::string& to,
                                     const std::string& agent_id, const std::string& reason,
                                     TimePoint now) {
  txn.exec_params(
      "INSERT INTO checkpoint_transitions (stream, from_cursor, to_cursor, rows, agent_id, "
      "accepted, reason, at) VALUES ($1, $2, $3, 0, NULLIF($4, ''), false, $5, $6::timestamptz)",
      stream, from, to, agent_id, reason, FormatRfc3339(now));
}

void CheckpointStore::RecordError(pqxx::dbtransaction& txn, const std::string& stream,
                                  int http_status, const std::string& error, TimePoint now) {
  txn.exec_params(
      "INSERT INTO stream_errors (stream, http_status, error, at) "
      "VALUES ($1, NULLIF($2, 0), $3, $4::timestamptz)",
      stream, http_status, error, FormatRfc3339(now));
}

}  // namespace sluice::streams
