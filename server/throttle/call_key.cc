#include "server/throttle/call_key.h"

#include "absl/strings/str_cat.h"

namespace sluice::throttle {

const char* UpstreamName(Upstream upstream) {
  return upstream == Upstream::kEsi ? "esi" : "poe";
}

std::optional<Upstream> ParseUpstream(absl::string_view name) {
  if (name == "esi") return Upstream::kEsi;
  if (name == "poe") return Upstream::kPoe;
  return std::nullopt;
}

std::string CallKey::Label() const {
  if (upstream == Upstream::kPoe && !egress.empty()) {
    return absl::StrCat(UpstreamName(upstream), " ", route, " @", egress);
  }
  return absl::StrCat(UpstreamName(upstream), " ", route);
}

absl::Status ValidateCallKey(const CallKey& key) {
  if (key.route.empty() || key.route.size() > kMaxRouteLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "route.route must be a path template of 1..", kMaxRouteLength, " characters"));
  }
  for (unsigned char c : key.route) {
    // Printable ASCII without spaces: routes become parts of budget names.
    if (c <= 0x20 || c >= 0x7f) {
      return absl::InvalidArgumentError(
          "route.route must contain only printable ASCII characters without spaces");
    }
  }
  if (key.egress.size() > kMaxEgressLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("route.egress must be at most ", kMaxEgressLength, " characters"));
  }
  for (char c : key.egress) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '.' || c == ':' || c == '-' || c == '_';
    if (!ok) {
      return absl::InvalidArgumentError(
          "route.egress must be an address made of [0-9A-Za-z.:_-]");
    }
  }
  return absl::OkStatus();
}

}  // namespace sluice::throttle
