// Bounds of what agents send the coordinator, in one place for both sides:
// the coordinator refuses anything larger (a whole ReportBatch, a
// completion), so the agent leaves out what would be refused rather than
// lose the rest with it.
#ifndef SLUICE_COMMON_WIRE_LIMITS_H_
#define SLUICE_COMMON_WIRE_LIMITS_H_

#include <cstddef>

namespace sluice {

// An upstream's ETag (RFC 9110: a quoted string of visible characters).
inline constexpr size_t kMaxEtagChars = 256;

// Headers forwarded in one throttler observation, and each one's size.
inline constexpr int kMaxObservationHeaders = 200;
inline constexpr size_t kMaxHeaderNameBytes = 256;
inline constexpr size_t kMaxHeaderValueBytes = 8192;

}  // namespace sluice

#endif  // SLUICE_COMMON_WIRE_LIMITS_H_
