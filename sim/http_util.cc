#include "sim/http_util.h"

#include <absl/strings/str_format.h>
#include <nlohmann/json.hpp>

#include <ctime>

namespace sluice::sim {
namespace {

std::string FormatUtc(int64_t unix_seconds, const char* format) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof(buf), format, &tm);
  return std::string(buf, n);
}

}  // namespace

std::string HttpDate(TimePoint t) {
  // strftime's %a/%b follow the C locale, which is what HTTP wants.
  int64_t s = std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  return FormatUtc(s, "%a, %d %b %Y %H:%M:%S GMT");
}

std::string IsoDate(int64_t unix_seconds) { return FormatUtc(unix_seconds, "%Y-%m-%dT%H:%M:%SZ"); }

std::string ETagOf(absl::string_view body) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : body) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return absl::StrFormat("\"%016x\"", h);
}

std::string EsiError(absl::string_view message) {
  return nlohmann::json{{"error", std::string(message)}}.dump();
}

std::string PoeError(int code, absl::string_view message) {
  return nlohmann::json{{"error", {{"code", code}, {"message", std::string(message)}}}}.dump();
}

std::optional<int64_t> ParseId(absl::string_view text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

int64_t CeilSeconds(Duration d) {
  if (d <= Duration::zero()) return 0;
  auto s = std::chrono::duration_cast<std::chrono::seconds>(d);
  if (s < d) s += std::chrono::seconds(1);
  return s.count();
}

}  // namespace sluice::sim
