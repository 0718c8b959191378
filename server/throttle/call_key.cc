#include "server/throttle/call_key.h"

#include "absl/strings/str_cat.h"

namespace sluice::throttle {
namespace {

// Egress addresses and callers become parts of budget names.
bool IsNameChar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
         c == ':' || c == '-' || c == '_';
}

}  // namespace

const char* UpstreamName(Upstream upstream) {
  return upstream == Upstream::kEsi ? "esi" : "poe";
}

std::optional<Upstream> ParseUpstream(absl::string_view name) {
  if (name == "esi") return Upstream::kEsi;
  if (name == "poe") return Upstream::kPoe;
  return std::nullopt;
}

std::string CallKey::Label() const {
  std::string out = absl::StrCat(UpstreamName(upstream), " ", route);
  if (!caller.empty()) absl::StrAppend(&out, " as ", caller);
  if (!egress.empty()) absl::StrAppend(&out, " @", egress);
  return out;
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
    if (!IsNameChar(c)) {
      return absl::InvalidArgumentError(
          "route.egress must be an address made of [0-9A-Za-z.:_-]");
    }
  }
  if (key.caller.size() > kMaxCallerLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("route.caller must be at most ", kMaxCallerLength, " characters"));
  }
  for (char c : key.caller) {
    if (!IsNameChar(c)) {
      return absl::InvalidArgumentError(
          "route.caller must be an identity made of [0-9A-Za-z.:_-], e.g. char:90000001");
    }
  }
  return absl::OkStatus();
}

}  // namespace sluice::throttle
