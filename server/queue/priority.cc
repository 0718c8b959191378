#include "server/queue/priority.h"

namespace sluice {

int PriorityValue(v1::PriorityClass c) {
  switch (c) {
    case v1::PRIORITY_CLASS_BACKGROUND:
      return kPriorityBackground;
    case v1::PRIORITY_CLASS_USER:
      return kPriorityUser;
    default:
      return kPriorityManual;
  }
}

v1::PriorityClass PriorityClassOf(int value) {
  if (value >= kPriorityUser) return v1::PRIORITY_CLASS_USER;
  if (value >= kPriorityManual) return v1::PRIORITY_CLASS_MANUAL;
  return v1::PRIORITY_CLASS_BACKGROUND;
}

}  // namespace sluice
