// Path of Exile public stash change ids ("2949-5051-4630-5422-1846": one
// counter per upstream shard, dash-separated). The coordinator uses the
// comparison to refuse a cursor that would move a stream backwards.
//
// Thread-safety: pure functions.
#ifndef SLUICE_SERVER_WORKFLOWS_STREAMS_CHANGE_ID_H_
#define SLUICE_SERVER_WORKFLOWS_STREAMS_CHANGE_ID_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sluice::streams {

// The shard counters of `id`. "" (the start of the stream) is an empty
// vector. INVALID_ARGUMENT for anything but dash-separated decimal numbers.
absl::StatusOr<std::vector<int64_t>> ParseChangeId(absl::string_view id);

enum class ChangeIdOrder {
  kSame,     // every counter equal
  kForward,  // no counter decreased and at least one grew
  kRewind,   // a counter decreased, or the shard count changed
};

// How `next` relates to `current`. Moving from the start ("") to any id is
// forward; moving from an id back to "" is a rewind. A change in shard count
// is treated as a rewind: counters of different shards cannot be compared, so
// accepting it could silently skip or repeat data.
absl::StatusOr<ChangeIdOrder> CompareChangeIds(absl::string_view current, absl::string_view next);

const char* ChangeIdOrderName(ChangeIdOrder order);

}  // namespace sluice::streams

#endif  // SLUICE_SERVER_WORKFLOWS_STREAMS_CHANGE_ID_H_
