#include "common/jwt_claims.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace sluice {

absl::StatusOr<JwtClaims> ParseJwtClaims(absl::string_view jwt) {
  std::vector<absl::string_view> parts = absl::StrSplit(jwt, '.');
  if (parts.size() != 3) {
    return absl::InvalidArgumentError("not a JWT: want three dot-separated parts, got " +
                                      std::to_string(parts.size()));
  }
  std::string payload;
  if (parts[1].empty() || !absl::WebSafeBase64Unescape(parts[1], &payload)) {
    return absl::InvalidArgumentError("JWT payload is not base64url");
  }
  nlohmann::json claims = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (claims.is_discarded() || !claims.is_object()) {
    return absl::InvalidArgumentError("JWT payload is not a JSON object");
  }
  JwtClaims out;
  if (auto it = claims.find("exp"); it != claims.end()) {
    // Past kMaxUnixSeconds (year 2262) is no token's real expiry and would not fit a TimePoint.
    if (!it->is_number() || !std::isfinite(it->get<double>()) || it->get<double>() <= 0 ||
        it->get<double>() >= kMaxUnixSeconds) {
      return absl::InvalidArgumentError("JWT claim exp is not a positive unix time before 2262");
    }
    out.expires = FromUnixSeconds(it->get<double>());
  }
  if (auto it = claims.find("sub"); it != claims.end()) {
    if (!it->is_string()) return absl::InvalidArgumentError("JWT claim sub is not a string");
    out.subject = it->get<std::string>();
  }
  if (auto it = claims.find("scp"); it != claims.end()) {
    if (it->is_string()) {
      out.scopes.push_back(it->get<std::string>());
    } else if (it->is_array()) {
      for (const auto& s : *it) {
        if (!s.is_string()) {
          return absl::InvalidArgumentError("JWT claim scp holds a value that is not a string");
        }
        out.scopes.push_back(s.get<std::string>());
      }
    } else {
      return absl::InvalidArgumentError("JWT claim scp is neither a string nor an array");
    }
  }
  return out;
}

std::optional<int64_t> EveCharacterOfSubject(absl::string_view sub) {
  const size_t colon = sub.rfind(':');
  int64_t id = 0;
  if (colon == absl::string_view::npos || sub.find("CHARACTER") == absl::string_view::npos ||
      !absl::SimpleAtoi(sub.substr(colon + 1), &id) || id <= 0) {
    return std::nullopt;
  }
  return id;
}

}  // namespace sluice
