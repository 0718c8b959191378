// StreamStatus is one stream's health as of a moment: its checkpoint, what
// it ingested and how often it failed. IngestStatusReader (ingest_status.h)
// builds it from PostgreSQL; AlertRules (alert_rules.h) judges it. Plain
// data, no I/O.
#ifndef SLUICE_SERVER_WORKFLOWS_ETL_STREAM_STATUS_H_
#define SLUICE_SERVER_WORKFLOWS_ETL_STREAM_STATUS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"

namespace sluice::etl {

enum class StreamKind { kStash, kExchange, kEtl, kOther };

// From the stream's name: "poe_stash:<realm>", "poe_exchange:<realm>",
// "etl:<name>".
StreamKind KindOfStream(const std::string& stream);
const char* StreamKindName(StreamKind kind);

struct StreamStatus {
  std::string stream;
  StreamKind kind = StreamKind::kOther;
  std::string cursor;
  TimePoint created_at{};
  TimePoint updated_at{};              // the cursor last moved
  std::optional<TimePoint> polled_at;  // last committed poll
  std::optional<TimePoint> head_at;    // last confirmation of being at the head
  int64_t pages = 0;
  int64_t rows = 0;
  int64_t empty_polls = 0;

  // Over the status window (5 minutes by default).
  int64_t pages_window = 0;  // accepted cursor moves
  int64_t rows_window = 0;
  int64_t empty_polls_window = 0;  // estimated from samples (see ingest_status.h)
  double requests_per_min = 0;     // pages + empty polls + failed fetches
  int64_t errors_window = 0;
  int64_t errors_total = 0;
  int64_t http_429_window = 0;
  // Every 429 within the alert rules' storm window, newest first.
  std::vector<TimePoint> recent_429s;
  int64_t rejected_rewinds = 0;

  // ETL streams: raw rows waiting beyond the cursor (up to the high-water mark).
  int64_t pending_rows = 0;
  // ETL streams: when the oldest pending raw row was ingested.
  std::optional<TimePoint> pending_since;

  // Seconds; see IngestLag().
  double lag_seconds = 0;
};

// The freshness lag of a stream at `now` (see alert_rules.h for why each
// kind is measured as it is):
//   stash:    now - head_at (the last time an empty page proved we held all the
//             upstream had published), or now - created_at if never at the head.
//             The upstream's own ~5-minute publication delay is not in it.
//   exchange: now - end of the last ingested hour (= the cursor, the next hour
//             to fetch, as unix seconds); now - created_at if the cursor is not
//             a number.
//   etl:      now - updated_at while rows are pending, else 0.
//   other:    now - updated_at.
double IngestLag(const StreamStatus& s, TimePoint now);

// The exchange cursor as a time (the start of the next hour to fetch).
std::optional<TimePoint> ExchangeCursorTime(const std::string& cursor);

}  // namespace sluice::etl

#endif  // SLUICE_SERVER_WORKFLOWS_ETL_STREAM_STATUS_H_
