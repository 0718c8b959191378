// Status conversion at the wire boundary: domain code returns absl::Status,
// services hand grpc::Status to gRPC. Codes map one to one.
#ifndef SLUICE_COMMON_GRPC_STATUS_H_
#define SLUICE_COMMON_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace sluice {

grpc::Status ToGrpcStatus(const absl::Status& s);
absl::Status FromGrpcStatus(const grpc::Status& s);

}  // namespace sluice

#endif  // SLUICE_COMMON_GRPC_STATUS_H_
