// TimePoint as RFC 3339 text in UTC with microseconds, e.g.
// "2026-11-23T03:29:44.123456Z": what logs show and what PostgreSQL's
// timestamptz input accepts. No protobuf here (common/time_util.h has the
// wire conversions), so the pure domain libraries can use it.
//
// Thread-safety: reentrant.
#ifndef SLUICE_COMMON_RFC3339_H_
#define SLUICE_COMMON_RFC3339_H_

#include <string>

#include "common/clock.h"

namespace sluice {

std::string FormatRfc3339(TimePoint t);

}  // namespace sluice

#endif  // SLUICE_COMMON_RFC3339_H_
