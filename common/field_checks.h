// Checks of one field of a record as it arrives from outside (an agent's
// result, an upstream's answer), for the schemas that sit where the wire
// meets the domain (server/workflows/esi/record_schema.h,
// server/workflows/contracts/contract_schema.h). Each names the field and,
// on failure, says what was wrong: INVALID_ARGUMENT. Text fields use
// common/text.h (CheckText).
#ifndef SLUICE_COMMON_FIELD_CHECKS_H_
#define SLUICE_COMMON_FIELD_CHECKS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace sluice {

// An id that must be there: positive.
absl::Status CheckId(const std::string& field, int64_t v);
// An id the upstream may omit: 0 stands for absent, otherwise positive.
absl::Status CheckOptionalId(const std::string& field, int64_t v);
// A finite number in [lo, hi].
absl::Status CheckInRange(const std::string& field, double v, double lo, double hi);

}  // namespace sluice

#endif  // SLUICE_COMMON_FIELD_CHECKS_H_
