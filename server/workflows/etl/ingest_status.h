// IngestStatusReader computes every stream's StreamStatus (stream_status.h)
// at the clock's now from checkpoints, checkpoint_transitions, stream_errors
// and the raw tables, and writes the poe_ingest_status table.
//
// Request rate: pages (accepted cursor moves in checkpoint_transitions) and
// failed fetches (stream_errors) are counted exactly over the window; empty
// polls only exist as a counter on the checkpoint row, so the reader samples
// that counter each time it reads and takes the difference over the samples
// inside the window (after a restart the first window is shorter).
//
// Ownership: borrows pool and clock. Thread-safety: safe from any thread
// (the samples are guarded by a mutex).
#ifndef SLUICE_SERVER_WORKFLOWS_ETL_INGEST_STATUS_H_
#define SLUICE_SERVER_WORKFLOWS_ETL_INGEST_STATUS_H_

#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "server/store/pg_pool.h"
#include "server/workflows/etl/stream_status.h"

namespace sluice::etl {

class IngestStatusReader {
 public:
  // window: rate and error window; storm_window: how far back 429 times are
  // kept in StreamStatus::recent_429s.
  IngestStatusReader(PgPool* pool, const Clock* clock, Duration window, Duration storm_window)
      : pool_(pool), clock_(clock), window_(window), storm_window_(storm_window) {}

  // Every stream (or only `stream`; empty result if it does not exist),
  // ordered by name, as of now. Also returns now.
  absl::StatusOr<std::vector<StreamStatus>> Read(TimePoint* now, const std::string& stream = "");

  // Replaces poe_ingest_status with the snapshot.
  absl::Status WriteTable(const std::vector<StreamStatus>& snapshot, TimePoint now);

  Duration window() const { return window_; }

 private:
  // Records a sample of the stream's empty poll counter; returns the polls
  // counted within the window.
  int64_t SampleEmptyPolls(const std::string& stream, TimePoint now, int64_t empty_polls);

  PgPool* const pool_;
  const Clock* const clock_;
  const Duration window_;
  const Duration storm_window_;
  std::mutex mu_;
  std::map<std::string, std::deque<std::pair<TimePoint, int64_t>>> samples_;
};

}  // namespace sluice::etl

#endif  // SLUICE_SERVER_WORKFLOWS_ETL_INGEST_STATUS_H_
