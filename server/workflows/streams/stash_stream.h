// StashStreamExtension is the coordinator's half of the PoE public stash
// stream (kind poe_stash_stream, entity id = realm index: 1 pc, 2 xbox, 3 sony): it gives the agent
// the stream's cursor at lease time and, at completion, stores the page's
// stashes in poe_stash_raw and moves the cursor in the same savepoint.
//
// Apply, with the checkpoint row locked (FOR UPDATE):
//   - start cursor != current cursor: FAILED_PRECONDITION, nothing written
//     (a stale or duplicate agent; the page belongs to a cursor already
//     consumed or never handed out);
//   - next_change_id before the start (a counter decreased, or the shard count
//     changed): the move is refused and recorded in checkpoint_transitions
//     (accepted = false), no rows are stored, the task is retried later. This
//     returns OK to the queue on purpose: an error status would roll back the
//     savepoint, and with it the audit row;
//   - no stashes and the same id: the head of the stream. Cursor unchanged,
//     empty poll and head_at counted, task requeued after the poll delay;
//   - no stashes but a later id: the cursor advances with 0 rows (nothing was
//     in between; staying would poll an id whose answer never changes);
//   - stashes: inserted (deduped on league, ingest_date, stash_id,
//     change_id), cursor advanced, task requeued at once.
//
// Ownership: holds a copy of the module's timing (poe_streams.h).
// Thread-safety: immutable after construction; see task_extension.h.
#ifndef SLUICE_SERVER_WORKFLOWS_STREAMS_STASH_STREAM_H_
#define SLUICE_SERVER_WORKFLOWS_STREAMS_STASH_STREAM_H_

#include <utility>

#include <memory>

#include "server/oauth/service_token.h"
#include "server/store/task_extension.h"
#include "server/workflows/streams/poe_streams.h"

namespace sluice::streams {

class StashStreamExtension final : public TaskExtension {
 public:
  // `token`: GGG's service token handed with each lease; null = none.
  explicit StashStreamExtension(StreamTiming timing,
                                std::shared_ptr<const oauth::ServiceTokenSource> token = nullptr)
      : timing_(std::move(timing)), token_(std::move(token)) {}

  std::string kind() const override;
  absl::Status FillContext(pqxx::dbtransaction& txn, std::vector<LeasedTask*>& tasks,
                           TimePoint now) override;
  absl::StatusOr<PayloadOutcome> Apply(pqxx::dbtransaction& txn, const ExtensionTask& task,
                                       const Completion& c, TimePoint now) override;
  void OnFailure(pqxx::dbtransaction& txn, const ExtensionTask& task, const Failure& f,
                 TimePoint now) override;
  void OnDead(pqxx::dbtransaction& txn, const ExtensionTask& task, const Failure& f,
              TimePoint now) override;

 private:
  const StreamTiming timing_;
  const std::shared_ptr<const oauth::ServiceTokenSource> token_;
};

}  // namespace sluice::streams

#endif  // SLUICE_SERVER_WORKFLOWS_STREAMS_STASH_STREAM_H_
