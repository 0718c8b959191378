// Wire <-> domain translations the services share: priority classes, and a
// workflow kind's payload (google.protobuf.Any <-> the queue's Payload, in
// server/store/payload_codec.h).
//
// Thread-safety: reentrant.
#ifndef SLUICE_SERVER_SERVICE_WIRE_H_
#define SLUICE_SERVER_SERVICE_WIRE_H_

#include <grpcpp/grpcpp.h>

#include "server/queue/priority.h"
#include "sluice/v1/common.pb.h"

namespace sluice {

// UNSPECIFIED is manual: an operator who names no class asked by hand.
// INVALID_ARGUMENT naming `field` for a class the wire does not define.
grpc::Status PriorityFromWire(v1::PriorityClass c, const char* field, Priority* out);
v1::PriorityClass PriorityToWire(int stored_priority);

}  // namespace sluice

#endif  // SLUICE_SERVER_SERVICE_WIRE_H_
