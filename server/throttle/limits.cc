#include "server/throttle/limits.h"

#include <chrono>

#include "absl/strings/str_cat.h"

namespace sluice::throttle {

absl::Status CheckCallCount(absl::string_view field, int64_t n) {
  if (n < 1 || n > kMaxCallsPerRequest) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " must be between 1 and ", kMaxCallsPerRequest));
  }
  return absl::OkStatus();
}

absl::Status CheckUnspent(absl::string_view field, int64_t unspent) {
  if (unspent < 0 || unspent > kMaxCallsPerRequest) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " must be between 0 and ", kMaxCallsPerRequest));
  }
  return absl::OkStatus();
}

absl::Status CheckStatus(absl::string_view field, int status) {
  if (status != 0 && (status < 100 || status > 599)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " must be 0 (transport failure) or 100..599"));
  }
  return absl::OkStatus();
}

absl::Status CheckMaxWait(absl::string_view field, Duration wait, Duration limit) {
  if (wait < Duration::zero() || wait > limit) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " must be between 0 and ",
                     std::chrono::duration_cast<std::chrono::seconds>(limit).count(), "s"));
  }
  return absl::OkStatus();
}

}  // namespace sluice::throttle
