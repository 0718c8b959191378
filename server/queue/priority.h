// Priority classes and their numeric queue priorities (seed 003 uses 5 for
// manual and 3 for background work; user requests rank above both).
#ifndef SLUICE_SERVER_QUEUE_PRIORITY_H_
#define SLUICE_SERVER_QUEUE_PRIORITY_H_

#include "sluice/v1/common.pb.h"

namespace sluice {

inline constexpr int kPriorityBackground = 3;
inline constexpr int kPriorityManual = 5;
inline constexpr int kPriorityUser = 7;

// UNSPECIFIED maps to manual: an operator who names no class asked by hand.
int PriorityValue(v1::PriorityClass c);
v1::PriorityClass PriorityClassOf(int value);

}  // namespace sluice

#endif  // SLUICE_SERVER_QUEUE_PRIORITY_H_
