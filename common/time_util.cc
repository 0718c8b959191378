#include "common/time_util.h"

#include <cstdio>
#include <ctime>

namespace sluice {

google::protobuf::Timestamp ToProto(TimePoint t) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  google::protobuf::Timestamp ts;
  int64_t secs = us / 1000000;
  int64_t rem = us % 1000000;
  if (rem < 0) {
    rem += 1000000;
    secs -= 1;
  }
  ts.set_seconds(secs);
  ts.set_nanos(static_cast<int32_t>(rem * 1000));
  return ts;
}

TimePoint FromProto(const google::protobuf::Timestamp& ts) {
  return TimePoint(std::chrono::duration_cast<Duration>(std::chrono::seconds(ts.seconds()) +
                                                        std::chrono::nanoseconds(ts.nanos())));
}

google::protobuf::Duration ToProtoDuration(Duration d) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  google::protobuf::Duration out;
  out.set_seconds(ns / 1000000000);
  out.set_nanos(static_cast<int32_t>(ns % 1000000000));
  return out;
}

Duration FromProtoDuration(const google::protobuf::Duration& d) {
  return std::chrono::duration_cast<Duration>(std::chrono::seconds(d.seconds()) +
                                              std::chrono::nanoseconds(d.nanos()));
}

}  // namespace sluice
