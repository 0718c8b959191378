#include "server/workflows/etl/stream_status.h"

#include <algorithm>
#include <cstdlib>

#include "absl/strings/match.h"

namespace sluice::etl {
namespace {

double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

StreamKind KindOfStream(const std::string& stream) {
  if (absl::StartsWith(stream, "poe_stash:")) return StreamKind::kStash;
  if (absl::StartsWith(stream, "poe_exchange:")) return StreamKind::kExchange;
  if (absl::StartsWith(stream, "etl:")) return StreamKind::kEtl;
  return StreamKind::kOther;
}

const char* StreamKindName(StreamKind kind) {
  switch (kind) {
    case StreamKind::kStash:
      return "stash";
    case StreamKind::kExchange:
      return "exchange";
    case StreamKind::kEtl:
      return "etl";
    case StreamKind::kOther:
      break;
  }
  return "other";
}

std::optional<TimePoint> ExchangeCursorTime(const std::string& cursor) {
  if (cursor.empty() || cursor.size() > 18) return std::nullopt;
  for (char c : cursor) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  return FromUnixSeconds(static_cast<double>(std::strtoll(cursor.c_str(), nullptr, 10)));
}

double IngestLag(const StreamStatus& s, TimePoint now) {
  double lag = 0;
  switch (s.kind) {
    case StreamKind::kStash:
      lag = Seconds(now - s.head_at.value_or(s.created_at));
      break;
    case StreamKind::kExchange: {
      auto end = ExchangeCursorTime(s.cursor);
      lag = Seconds(now - end.value_or(s.created_at));
      break;
    }
    case StreamKind::kEtl:
      lag = s.pending_rows > 0 ? Seconds(now - s.updated_at) : 0;
      break;
    case StreamKind::kOther:
      lag = Seconds(now - s.updated_at);
      break;
  }
  return std::max(0.0, lag);
}

}  // namespace sluice::etl
