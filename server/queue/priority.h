// Priority classes of queued work and their numeric queue priorities (seed
// 003 uses 5 for manual and 3 for background work; user requests rank above
// both). A claim serves the highest priority that has ready work; urgency
// orders tasks within it.
//
// Plain values; no thread-safety concerns.
#ifndef SLUICE_SERVER_QUEUE_PRIORITY_H_
#define SLUICE_SERVER_QUEUE_PRIORITY_H_

#include "absl/strings/string_view.h"

namespace sluice {

enum class Priority : int {
  kBackground = 3,
  kManual = 5,
  kUser = 7,
};

// The number stored in discovery_queue.priority.
inline int PriorityValue(Priority p) { return static_cast<int>(p); }
// The class a stored number belongs to (the highest class at or below it).
Priority PriorityOf(int value);
// "background", "manual", "user".
absl::string_view PriorityName(Priority p);

}  // namespace sluice

#endif  // SLUICE_SERVER_QUEUE_PRIORITY_H_
