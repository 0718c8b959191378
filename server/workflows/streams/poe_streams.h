// The PoE cursor streams' names, realms and timing, shared by the module
// (stream_module.h) and the two task extensions (stash_stream.h,
// exchange_stream.h).
//
// A stream is one queued task whose entity id is the realm index (1 pc,
// 2 xbox, 3 sony); its task is requeued by every completion, so exactly one
// agent holds it at a time.
//
// StreamTiming is a value: the module builds it from its options and hands a
// copy to each extension it constructs, so coordinators in one process (tests
// run several) keep timings of their own.
// Thread-safety: every function here is pure and safe from any thread.
#ifndef SLUICE_SERVER_WORKFLOWS_STREAMS_POE_STREAMS_H_
#define SLUICE_SERVER_WORKFLOWS_STREAMS_POE_STREAMS_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "common/clock.h"

namespace sluice::streams {

inline constexpr char kStashStreamKind[] = "poe_stash_stream";
inline constexpr char kExchangeStreamKind[] = "poe_exchange_stream";
inline constexpr int64_t kHourSeconds = 3600;
// GGG publishes no length limits for the names and ids in a stash or
// exchange page; a bound far above any seen keeps a broken or hostile page
// from storing megabytes in a name column (characters).
inline constexpr size_t kMaxPoeName = 256;

// Realm index (the task's entity id) <-> name: 1 pc, 2 xbox, 3 sony. (The
// queue takes only positive entity ids for a kind with several tasks.)
std::optional<std::string> RealmName(int64_t index);
std::optional<int64_t> RealmIndex(const std::string& name);

// "poe_stash:<realm>", "poe_exchange:<realm>".
std::string StashStreamName(const std::string& realm);
std::string ExchangeStreamName(const std::string& realm);

struct StreamTiming {
  // After an empty stash page at the head, poll the same id again after this.
  Duration stash_poll = std::chrono::seconds(2);
  // When the exchange hour is not published yet: at least this, else until
  // the hour has ended.
  Duration exchange_poll = std::chrono::seconds(60);
  // A rejected (rewinding) page: try again after this.
  Duration rejected_retry = std::chrono::seconds(30);
  // Initial cursors of new checkpoints.
  std::string stash_start_id;                  // "" = the start of the stream
  std::optional<int64_t> exchange_start_hour;  // unset = 24 h before now
};

// The exchange stream's first hour: the configured one (rounded down to the
// hour), or the hour that started 24 h before `now`.
int64_t ExchangeStartHour(const StreamTiming& timing, TimePoint now);

}  // namespace sluice::streams

#endif  // SLUICE_SERVER_WORKFLOWS_STREAMS_POE_STREAMS_H_
