#include "common/caller.h"

#include <nlohmann/json.hpp>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace sluice {

std::string EsiCharacterCaller(int64_t character_id) { return absl::StrCat("char:", character_id); }

std::optional<int64_t> EsiTokenCharacter(absl::string_view access_token) {
  std::vector<absl::string_view> parts = absl::StrSplit(access_token, '.');
  if (parts.size() != 3) return std::nullopt;
  std::string payload;
  if (!absl::WebSafeBase64Unescape(parts[1], &payload)) return std::nullopt;
  nlohmann::json claims = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (claims.is_discarded() || !claims.is_object() || !claims.contains("sub") ||
      !claims["sub"].is_string()) {
    return std::nullopt;
  }
  // "CHARACTER:EVE:<id>" (the docs have also shown "EVE:CHARACTER:<id>").
  const std::string sub = claims["sub"].get<std::string>();
  const size_t colon = sub.rfind(':');
  int64_t id = 0;
  if (colon == std::string::npos || sub.find("CHARACTER") == std::string::npos ||
      !absl::SimpleAtoi(absl::string_view(sub).substr(colon + 1), &id) || id <= 0) {
    return std::nullopt;
  }
  return id;
}

}  // namespace sluice
