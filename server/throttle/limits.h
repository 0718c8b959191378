// What a caller may ask of the throttler, checked in one place: the
// throttler's methods check their arguments with these, and the gRPC service
// uses the same checks (with the wire's field names) where it must refuse a
// whole batch before applying any of it.
//
// Pure functions; thread-safe.
#ifndef SLUICE_SERVER_THROTTLE_LIMITS_H_
#define SLUICE_SERVER_THROTTLE_LIMITS_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/clock.h"

namespace sluice::throttle {

// Calls one Acquire, NextPermitted or LeaseTokens may ask for, and one token
// return may give back.
inline constexpr int kMaxCallsPerRequest = 1000;

// INVALID_ARGUMENT naming `field` unless 1 <= n <= kMaxCallsPerRequest.
absl::Status CheckCallCount(absl::string_view field, int64_t n);
// INVALID_ARGUMENT unless 0 <= unspent <= kMaxCallsPerRequest.
absl::Status CheckUnspent(absl::string_view field, int64_t unspent);
// An upstream response status: 0 (transport failure) or 100..599.
absl::Status CheckStatus(absl::string_view field, int status);
// 0 <= wait <= limit (the throttler's max_acquire_wait).
absl::Status CheckMaxWait(absl::string_view field, Duration wait, Duration limit);

}  // namespace sluice::throttle

#endif  // SLUICE_SERVER_THROTTLE_LIMITS_H_
