// Conversions between TimePoint/Duration and protobuf Timestamp/Duration, and
// PostgreSQL timestamp text.
#ifndef SLUICE_COMMON_TIME_UTIL_H_
#define SLUICE_COMMON_TIME_UTIL_H_

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/timestamp.pb.h>

#include <string>

#include "common/clock.h"

namespace sluice {

google::protobuf::Timestamp ToProto(TimePoint t);
TimePoint FromProto(const google::protobuf::Timestamp& ts);
google::protobuf::Duration ToProtoDuration(Duration d);
Duration FromProtoDuration(const google::protobuf::Duration& d);

// RFC 3339 in UTC with microseconds, e.g. "2026-11-23T03:29:44.123456Z".
// PostgreSQL's timestamptz input accepts it.
std::string FormatRfc3339(TimePoint t);

}  // namespace sluice

#endif  // SLUICE_COMMON_TIME_UTIL_H_
