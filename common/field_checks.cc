#include "common/field_checks.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace sluice {

absl::Status CheckId(const std::string& field, int64_t v) {
  if (v > 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(field, ": must be positive, got ", v));
}

absl::Status CheckOptionalId(const std::string& field, int64_t v) {
  if (v >= 0) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": must be 0 (absent) or positive, got ", v));
}

absl::Status CheckInRange(const std::string& field, double v, double lo, double hi) {
  if (std::isfinite(v) && v >= lo && v <= hi) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": must be in ", lo, "..", hi, ", got ", v));
}

}  // namespace sluice
