#include "server/service/wire.h"

#include <string>

namespace sluice {

grpc::Status PriorityFromWire(v1::PriorityClass c, const char* field, Priority* out) {
  switch (c) {
    case v1::PRIORITY_CLASS_BACKGROUND:
      *out = Priority::kBackground;
      return grpc::Status::OK;
    case v1::PRIORITY_CLASS_USER:
      *out = Priority::kUser;
      return grpc::Status::OK;
    case v1::PRIORITY_CLASS_MANUAL:
    case v1::PRIORITY_CLASS_UNSPECIFIED:
      *out = Priority::kManual;
      return grpc::Status::OK;
    default:
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          std::string(field) + ": unknown priority class " + std::to_string(c));
  }
}

v1::PriorityClass PriorityToWire(int stored_priority) {
  switch (PriorityOf(stored_priority)) {
    case Priority::kUser:
      return v1::PRIORITY_CLASS_USER;
    case Priority::kManual:
      return v1::PRIORITY_CLASS_MANUAL;
    case Priority::kBackground:
      return v1::PRIORITY_CLASS_BACKGROUND;
  }
  return v1::PRIORITY_CLASS_MANUAL;
}

}  // namespace sluice
