#include "server/workflows/streams/change_id.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace sluice::streams {

absl::StatusOr<std::vector<int64_t>> ParseChangeId(absl::string_view id) {
  std::vector<int64_t> out;
  if (id.empty()) return out;
  for (absl::string_view part : absl::StrSplit(id, '-')) {
    int64_t value = 0;
    bool digits = !part.empty() && part.size() <= 18;
    for (char c : part) digits = digits && c >= '0' && c <= '9';
    if (!digits || !absl::SimpleAtoi(part, &value)) {
      return absl::InvalidArgumentError(absl::StrCat("change id '", id.substr(0, 200),
                                                     "' is not dash-separated decimal numbers"));
    }
    out.push_back(value);
  }
  return out;
}

absl::StatusOr<ChangeIdOrder> CompareChangeIds(absl::string_view current, absl::string_view next) {
  auto from = ParseChangeId(current);
  if (!from.ok()) return from.status();
  auto to = ParseChangeId(next);
  if (!to.ok()) return to.status();
  if (*from == *to) return ChangeIdOrder::kSame;
  if (from->empty()) return ChangeIdOrder::kForward;
  if (from->size() != to->size()) return ChangeIdOrder::kRewind;
  for (size_t i = 0; i < from->size(); ++i) {
    if ((*to)[i] < (*from)[i]) return ChangeIdOrder::kRewind;
  }
  return ChangeIdOrder::kForward;
}

const char* ChangeIdOrderName(ChangeIdOrder order) {
  switch (order) {
    case ChangeIdOrder::kSame:
      return "same";
    case ChangeIdOrder::kForward:
      return "forward";
    case ChangeIdOrder::kRewind:
      return "rewind";
  }
  return "unknown";
}

}  // namespace sluice::streams
