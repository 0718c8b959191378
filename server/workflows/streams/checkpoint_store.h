// CheckpointStore reads and moves stream cursors (table `checkpoints`) and
// keeps their history (`checkpoint_transitions`) and fetch errors
// (`stream_errors`); it is the only writer of those tables, for the upstream
// streams and the ETL transforms' own cursors alike (its statements:
// checkpoint_sql.h). It only issues SQL inside a transaction the caller owns:
// a cursor moves in the same transaction that stores the rows it covers, and
// callers lock the row (Lock) before writing those rows, so the data and its
// cursor commit together or not at all, and writers of a stream's raw table
// are serialized by the checkpoint row lock.
//
// Thread-safety: stateless; safe from any thread (each call uses the
// caller's transaction).
#ifndef SLUICE_SERVER_WORKFLOWS_STREAMS_CHECKPOINT_STORE_H_
#define SLUICE_SERVER_WORKFLOWS_STREAMS_CHECKPOINT_STORE_H_

#include <pqxx/pqxx>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"

namespace sluice::streams {

struct Checkpoint {
  std::string stream;
  std::string cursor;
  // UTC date (YYYY-MM-DD) of updated_at: when the current cursor became
  // current. Raw stash rows of the page fetched with this cursor are filed
  // under this date, so every replay of the page lands in the same partition.
  std::string cursor_date;
};

class CheckpointStore {
 public:
  // Creates the checkpoint with `initial_cursor` if the stream has none;
  // an existing checkpoint is left alone. True if it was created.
  static bool Ensure(pqxx::dbtransaction& txn, const std::string& stream,
                     const std::string& initial_cursor, TimePoint now);

  // Current cursors of `streams` (missing streams are absent), unlocked.
  static std::map<std::string, std::string> Cursors(pqxx::dbtransaction& txn,
                                                    const std::vector<std::string>& streams);

  // Locks the stream's row (SELECT ... FOR UPDATE) until the transaction
  // ends. nullopt if the stream has no checkpoint.
  static std::optional<Checkpoint> Lock(pqxx::dbtransaction& txn, const std::string& stream);

  // Locks FOR SHARE, in stream order, every row whose stream matches the
  // LIKE pattern until the transaction ends. A reader of a raw table takes it
  // before reading max(raw_id): it waits out any writer in the middle of a
  // commit (writers hold their row FOR UPDATE), so every raw_id up to the max
  // read afterwards is committed.
  static void ShareLock(pqxx::dbtransaction& txn, const std::string& stream_like);

  // Moves the cursor (the row must be locked) and records the transition.
  // `page_with_data` counts a page; an empty page that still moved the
  // cursor counts an empty poll. `at_head`: the mover knows nothing newer
  // than `to` exists yet (head_at).
  static void Advance(pqxx::dbtransaction& txn, const std::string& stream, const std::string& from,
                      const std::string& to, int64_t rows, bool page_with_data,
                      const std::string& agent_id, TimePoint now, bool at_head = false);

  // A poll that did not move the cursor. `at_head`: the upstream confirmed
  // there is nothing newer yet (head_at). `rows` were still stored (a page
  // that repeated its own id; deduped).
  static void RecordPoll(pqxx::dbtransaction& txn, const std::string& stream, bool at_head,
                         int64_t rows, TimePoint now);

  // A refused cursor move (accepted = false), e.g. a rewind.
  static void RecordRejected(pqxx::dbtransaction& txn, const std::string& stream,
                             const std::string& from, const std::string& to,
                             const std::string& agent_id, const std::string& reason, TimePoint now);

  // A failed fetch (http_status 0 = no HTTP answer).
  static void RecordError(pqxx::dbtransaction& txn, const std::string& stream, int http_status,
                          const std::string& error, TimePoint now);
};

}  // namespace sluice::streams

#endif  // SLUICE_SERVER_WORKFLOWS_STREAMS_CHECKPOINT_STORE_H_
