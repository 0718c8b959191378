// The urgency of a queued entity: (now - last_modified) * (access_count + 1).
// The claim function in db/migrations/0002_claim.sql computes the same value
// in SQL; this copy is the reference the tests compare it against.
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
