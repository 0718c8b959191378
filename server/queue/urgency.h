// The urgency of a queued entity: (now - last_modified) * (access_count + 1).
// The ready index (ready_index.h) ranks claims by it; the tests' brute-force
// orderings use it too.
#ifndef SLUICE_SERVER_QUEUE_URGENCY_H_
#define SLUICE_SERVER_QUEUE_URGENCY_H_

#include <cstdint>

#include "common/clock.h"

namespace sluice {

inline double Urgency(TimePoint now, TimePoint last_modified, int64_t access_count) {
  double age = std::chrono::duration<double>(now - last_modified).count();
  return age * static_cast<double>(access_count + 1);
}

}  // namespace sluice

#endif  // SLUICE_SERVER_QUEUE_URGENCY_H_
