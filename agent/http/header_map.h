// HeaderMap holds HTTP response headers in arrival order with
// case-insensitive lookup (HTTP field names are case-insensitive, and ESI and
// PoE spell them differently from proxies in between).
//
// Thread-safety: a plain value type; not synchronised.
#ifndef SLUICE_AGENT_HTTP_HEADER_MAP_H_
#define SLUICE_AGENT_HTTP_HEADER_MAP_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"

namespace sluice::agent {

class HeaderMap {
 public:
  using Entry = std::pair<std::string, std::string>;

  void Add(std::string name, std::string value);
  void Clear() { entries_.clear(); }

  // The first value of `name`, or nullopt.
  std::optional<std::string> Get(std::string_view name) const;
  // The first value of `name`, or "" when absent.
  std::string GetOr(std::string_view name, std::string fallback = "") const;
  bool Has(std::string_view name) const { return Get(name).has_value(); }
  // The instant the first value of `name` names as an HTTP-date (Expires,
  // Date, Last-Modified; common/http_date.h), or nullopt when absent or not
  // a date.
  std::optional<TimePoint> GetDate(std::string_view name) const;

  const std::vector<Entry>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }

 private:
  std::vector<Entry> entries_;
};

bool EqualsIgnoreCase(std::string_view a, std::string_view b);
bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix);
// Without leading and trailing spaces, tabs, CR and LF.
std::string_view TrimWhitespace(std::string_view s);
// Every byte in 0x20..0x7e: what the rate-limit headers and ETags the agent
// passes on must be (the coordinator's proto3 strings need UTF-8).
bool IsPrintableAscii(std::string_view s);
// An ETag as the agent passes it on (to the coordinator, and back upstream as
// If-None-Match): as is when it is printable ASCII and within
// kMaxEtagChars (common/wire_limits.h), otherwise "" (no validator). RFC
// 7232 allows obs-text bytes, but the coordinator's proto3 strings must be
// UTF-8: one such ETag would make the whole result unreadable, and a longer
// one the coordinator refuses.
std::string UsableEtag(std::string etag);

}  // namespace sluice::agent

#endif  // SLUICE_AGENT_HTTP_HEADER_MAP_H_
