// Between a workflow kind's protobuf messages and the queue's opaque Payload
// (server/queue/payload.h): the one way to pack a lease context or a result,
// and to unpack one with an error that says what was expected and what came.
//
// Thread-safety: reentrant.
#ifndef SLUICE_SERVER_STORE_PAYLOAD_CODEC_H_
#define SLUICE_SERVER_STORE_PAYLOAD_CODEC_H_

#include <google/protobuf/any.pb.h>

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "server/queue/payload.h"

namespace sluice {

inline Payload FromAny(const google::protobuf::Any& any) {
  return Payload{any.type_url(), any.value()};
}

inline google::protobuf::Any ToAny(const Payload& p) {
  google::protobuf::Any any;
  any.set_type_url(p.type_url);
  any.set_value(p.value);
  return any;
}

template <typename Message>
Payload PackPayload(const Message& m) {
  google::protobuf::Any any;
  any.PackFrom(m);
  return FromAny(any);
}

// INVALID_ARGUMENT "<field>: a '<kind>' task carries <Message>, not <what
// came>" when the payload is missing, of another type or unparseable.
template <typename Message>
absl::StatusOr<Message> UnpackPayload(const std::optional<Payload>& p, absl::string_view field,
                                      absl::string_view kind) {
  const std::string expected = Message::descriptor()->full_name();
  if (!p.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": a '", kind, "' task carries ", expected, ", none came"));
  }
  Message out;
  if (p->type_name() != expected || !out.ParseFromString(p->value)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": a '", kind, "' task carries ",
                                                   expected, ", not '", p->type_url, "'"));
  }
  return out;
}

}  // namespace sluice

#endif  // SLUICE_SERVER_STORE_PAYLOAD_CODEC_H_
