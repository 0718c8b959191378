// Conversions between TimePoint/Duration and protobuf Timestamp/Duration
// (and, through common/rfc3339.h, RFC 3339 text).
#ifndef SLUICE_COMMON_TIME_UTIL_H_
#define SLUICE_COMMON_TIME_UTIL_H_

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/timestamp.pb.h>

#include <string>

#include "common/clock.h"
#include "common/rfc3339.h"

namespace sluice {

google::protobuf::Timestamp ToProto(TimePoint t);
TimePoint FromProto(const google::protobuf::Timestamp& ts);
google::protobuf::Duration ToProtoDuration(Duration d);
Duration FromProtoDuration(const google::protobuf::Duration& d);

}  // namespace sluice

#endif  // SLUICE_COMMON_TIME_UTIL_H_
