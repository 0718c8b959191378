#include "server/throttle/call_key.h"

#include "absl/strings/str_cat.h"

namespace sluice::throttle {
namespace {

bool IsNameChar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
         c == ':' || c == '-' || c == '_';
}

// Egress addresses and callers become parts of budget names: bounded, and
// without separators.
absl::Status ValidateName(const std::string& value, const char* field, size_t max,
                          const char* what) {
  if (value.size() > max) {
    return absl::InvalidArgumentError(absl::StrCat(field, " must be at most ", max, " characters"));
  }
  for (char c : value) {
    if (!IsNameChar(c)) return absl::InvalidArgumentError(absl::StrCat(field, " must be ", what));
  }
  return absl::OkStatus();
}

}  // namespace

const char* UpstreamName(Upstream upstream) { return upstream == Upstream::kEsi ? "esi" : "poe"; }

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
    return absl::InvalidArgumentError(
        absl::StrCat("route.route must be a path template of 1..", kMaxRouteLength, " characters"));
  }
  for (unsigned char c : key.route) {
    // Printable ASCII without spaces: routes become parts of budget names.
    if (c <= 0x20 || c >= 0x7f) {
      return absl::InvalidArgumentError(
          "route.route must contain only printable ASCII characters without spaces");
    }
  }
  if (absl::Status s = ValidateName(key.egress, "route.egress", kMaxEgressLength,
                                    "an address made of [0-9A-Za-z.:_-]");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateName(key.caller, "route.caller", kMaxCallerLength,
                                    "an identity made of [0-9A-Za-z.:_-], e.g. char:90000001");
      !s.ok()) {
    return s;
  }
  return absl::OkStatus();
}

}  // namespace sluice::throttle
