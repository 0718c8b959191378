#include "server/queue/priority.h"

namespace sluice {

Priority PriorityOf(int value) {
  if (value >= PriorityValue(Priority::kUser)) return Priority::kUser;
  if (value >= PriorityValue(Priority::kManual)) return Priority::kManual;
  return Priority::kBackground;
}

absl::string_view PriorityName(Priority p) {
  switch (p) {
    case Priority::kBackground:
      return "background";
    case Priority::kManual:
      return "manual";
    case Priority::kUser:
      return "user";
  }
  return "unknown";
}

}  // namespace sluice
