#include "server/workflows/streams/checkpoint_store.h"

#include "common/time_util.h"
#include "server/store/pg_pool.h"
#include "server/workflows/streams/checkpoint_sql.h"

namespace sluice::streams {

bool CheckpointStore::Ensure(pqxx::dbtransaction& txn, const std::string& stream,
                             const std::string& initial_cursor, TimePoint now) {
  return !txn.exec_params(checkpoint_sql::kEnsure, stream, initial_cursor, FormatRfc3339(now))
              .empty();
}

std::map<std::string, std::string> CheckpointStore::Cursors(
    pqxx::dbtransaction& txn, const std::vector<std::string>& streams) {
  std::map<std::string, std::string> out;
  for (const auto& row : txn.exec_params(checkpoint_sql::kCursors, PgTextArray(streams))) {
    out[row[0].c_str()] = row[1].c_str();
  }
  return out;
}

std::optional<Checkpoint> CheckpointStore::Lock(pqxx::dbtransaction& txn,
                                                const std::string& stream) {
  auto res = txn.exec_params(checkpoint_sql::kLock, stream);
  if (res.empty()) return std::nullopt;
  return Checkpoint{stream, res[0][0].c_str(), res[0][1].c_str()};
}

void CheckpointStore::ShareLock(pqxx::dbtransaction& txn, const std::string& stream_like) {
  txn.exec_params(checkpoint_sql::kShareLock, stream_like);
}

void CheckpointStore::Advance(pqxx::dbtransaction& txn, const std::string& stream,
                              const std::string& from, const std::string& to, int64_t rows,
                              bool page_with_data, const std::string& agent_id, TimePoint now,
                              bool at_head) {
  const std::string at = FormatRfc3339(now);
  txn.exec_params(checkpoint_sql::kAdvance, stream, to, at, page_with_data ? 1 : 0, rows,
                  page_with_data ? 0 : 1, at_head);
  txn.exec_params(checkpoint_sql::kInsertAccepted, stream, from, to, rows, agent_id, at);
}

void CheckpointStore::RecordPoll(pqxx::dbtransaction& txn, const std::string& stream, bool at_head,
                                 int64_t rows, TimePoint now) {
  txn.exec_params(checkpoint_sql::kRecordPoll, stream, FormatRfc3339(now), at_head, rows);
}

void CheckpointStore::RecordRejected(pqxx::dbtransaction& txn, const std::string& stream,
                                     const std::string& from, const std::string& to,
                                     const std::string& agent_id, const std::string& reason,
                                     TimePoint now) {
  txn.exec_params(checkpoint_sql::kInsertRejected, stream, from, to, agent_id, reason,
                  FormatRfc3339(now));
}

void CheckpointStore::RecordError(pqxx::dbtransaction& txn, const std::string& stream,
                                  int http_status, const std::string& error, TimePoint now) {
  txn.exec_params(checkpoint_sql::kInsertError, stream, http_status, error, FormatRfc3339(now));
}

}  // namespace sluice::streams
