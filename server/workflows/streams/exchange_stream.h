// ExchangeStreamExtension is the coordinator's half of the PoE currency
// exchange stream (kind poe_exchange_stream, entity id = realm index: 1 pc, 2 xbox, 3 sony). The
// cursor is a unix hour (decimal text); each completion covers that hour.
//
// Apply, with the checkpoint row locked (FOR UPDATE):
//   - start hour != current cursor: FAILED_PRECONDITION, nothing written;
//   - next hour before the start: refused and recorded (accepted = false),
//     returned OK so the audit row commits (see stash_stream.h);
//   - next hour == start: the hour is not published yet; cursor unchanged,
//     requeued when the hour should have ended (at least the poll delay);
//   - next hour later: the hour's markets are stored (unique per realm, hour,
//     league, market), the cursor moves to the next hour. The hour is
//     recorded in poe_exchange_gaps if it had no markets, and so is every
//     hour skipped over when next_change_id jumps by more than one hour.
//     A next hour more than an hour ahead of the clock is INVALID_ARGUMENT.
//
// Ownership: holds a copy of the module's timing (poe_streams.h).
// Thread-safety: immutable after construction; see task_extension.h.
#ifndef SLUICE_SERVER_WORKFLOWS_STREAMS_EXCHANGE_STREAM_H_
#define SLUICE_SERVER_WORKFLOWS_STREAMS_EXCHANGE_STREAM_H_

#include <utility>

#include <memory>

#include "server/oauth/service_token.h"
#include "server/store/task_extension.h"
#include "server/workflows/streams/poe_streams.h"

namespace sluice::streams {

class ExchangeStreamExtension final : public TaskExtension {
 public:
  // `token`: GGG's service token handed with each lease; null = none.
  explicit ExchangeStreamExtension(StreamTiming timing,
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

#endif  // SLUICE_SERVER_WORKFLOWS_STREAMS_EXCHANGE_STREAM_H_
