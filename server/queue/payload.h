// Payload is a workflow kind's own message as the queue carries it: the lease
// context a kind adds to a task (a stream cursor, a character's token) and
// the result an agent completes a task with (killmail refs, a stream page,
// entity records). The queue never looks inside; the kind's TaskExtension
// packs and unpacks it (server/store/payload_codec.h).
//
// The shape is protobuf's Any (a type URL naming the message, its serialized
// bytes), so the wire's Any converts without copying schemas, while the queue
// depends on no protobuf.
//
// Plain value; no thread-safety concerns.
#ifndef SLUICE_SERVER_QUEUE_PAYLOAD_H_
#define SLUICE_SERVER_QUEUE_PAYLOAD_H_

#include <string>

#include "absl/strings/string_view.h"

namespace sluice {

struct Payload {
  // "type.googleapis.com/sluice.v1.KillmailResult".
  std::string type_url;
  std::string value;

  // The message's full name: what follows the last '/' of the type URL.
  absl::string_view type_name() const {
    const size_t slash = type_url.rfind('/');
    return slash == std::string::npos ? absl::string_view(type_url)
                                      : absl::string_view(type_url).substr(slash + 1);
  }
};

}  // namespace sluice

#endif  // SLUICE_SERVER_QUEUE_PAYLOAD_H_
