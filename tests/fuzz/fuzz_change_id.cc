// Fuzzes server/workflows/streams/change_id.h: ParseChangeId and
// CompareChangeIds, which the coordinator runs on PoE's next_change_id before
// it moves a stream's checkpoint. The input is two ids, current and next,
// split at the first newline (no newline: the input is both).
//
// Checks: a parsed id is one non-negative counter per dash-separated part
// and its canonical text parses to the same counters; the comparison fails
// exactly when an id does not parse; an id compared with itself is the
// same; forward one way is rewind the other way; every order has a name.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "server/workflows/streams/change_id.h"

namespace {

using sluice::streams::ChangeIdOrder;

void Fail(const char* what, absl::string_view a, absl::string_view b) {
  std::fprintf(stderr, "invariant broken: %s (current '%.*s', next '%.*s')\n", what,
               static_cast<int>(a.size()), a.data(), static_cast<int>(b.size()), b.data());
  std::abort();
}

bool CheckParse(absl::string_view id) {
  absl::StatusOr<std::vector<int64_t>> counters = sluice::streams::ParseChangeId(id);
  if (!counters.ok()) {
    if (counters.status().message().empty()) Fail("refusal without a message", id, "");
    return false;
  }
  const size_t parts = id.empty() ? 0 : 1 + std::count(id.begin(), id.end(), '-');
  if (counters->size() != parts) Fail("not one counter per part", id, "");
  for (int64_t c : *counters) {
    if (c < 0) Fail("negative counter", id, "");
  }
  std::string canonical = absl::StrJoin(*counters, "-");
  absl::StatusOr<std::vector<int64_t>> again = sluice::streams::ParseChangeId(canonical);
  if (!again.ok() || *again != *counters) Fail("canonical text does not parse back", id, "");
  return true;
}

void CheckName(ChangeIdOrder order, absl::string_view a, absl::string_view b) {
  const char* name = sluice::streams::ChangeIdOrderName(order);
  if (name == nullptr || std::strcmp(name, "unknown") == 0) Fail("order without a name", a, b);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  const absl::string_view current = input.substr(0, newline);
  const absl::string_view next =
      newline == absl::string_view::npos ? input : input.substr(newline + 1);

  const bool current_ok = CheckParse(current);
  const bool next_ok = CheckParse(next);
  auto order = sluice::streams::CompareChangeIds(current, next);
  if (order.ok() != (current_ok && next_ok)) Fail("compared what does not parse", current, next);
  if (!order.ok()) return 0;
  CheckName(*order, current, next);

  auto self = sluice::streams::CompareChangeIds(current, current);
  if (!self.ok() || *self != ChangeIdOrder::kSame)
    Fail("an id is not the same as itself", current, current);
  auto back = sluice::streams::CompareChangeIds(next, current);
  if (!back.ok()) Fail("comparison not symmetric in what parses", current, next);
  switch (*order) {
    case ChangeIdOrder::kSame:
      if (*back != ChangeIdOrder::kSame) Fail("same one way only", current, next);
      break;
    case ChangeIdOrder::kForward:
      if (*back != ChangeIdOrder::kRewind) Fail("forward, and not rewind backwards", current, next);
      break;
    case ChangeIdOrder::kRewind:
      // Both ways can be rewinds: counters that moved both ways, or another
      // shard count.
      if (*back == ChangeIdOrder::kSame) Fail("rewind one way, same the other", current, next);
      break;
  }
  return 0;
}
