#include "server/workflows/streams/poe_streams.h"

#include <iterator>

namespace sluice::streams {
namespace {

constexpr const char* kRealms[] = {"pc", "xbox", "sony"};

}  // namespace

std::optional<std::string> RealmName(int64_t index) {
  if (index < 1 || index > static_cast<int64_t>(std::size(kRealms))) return std::nullopt;
  return std::string(kRealms[index - 1]);
}

std::optional<int64_t> RealmIndex(const std::string& name) {
  for (size_t i = 0; i < std::size(kRealms); ++i) {
    if (name == kRealms[i]) return static_cast<int64_t>(i) + 1;
  }
  return std::nullopt;
}

std::string StashStreamName(const std::string& realm) { return "poe_stash:" + realm; }
std::string ExchangeStreamName(const std::string& realm) { return "poe_exchange:" + realm; }

int64_t ExchangeStartHour(const StreamTiming& timing, TimePoint now) {
  if (timing.exchange_start_hour.has_value()) {
    return *timing.exchange_start_hour / kHourSeconds * kHourSeconds;
  }
  const int64_t now_s = static_cast<int64_t>(ToUnixSeconds(now));
  return now_s / kHourSeconds * kHourSeconds - 24 * kHourSeconds;
}

}  // namespace sluice::streams
