#include "common/caller.h"

#include "absl/strings/str_cat.h"
#include "common/jwt_claims.h"

namespace sluice {

std::string EsiCharacterCaller(int64_t character_id) { return absl::StrCat("char:", character_id); }

std::optional<int64_t> EsiTokenCharacter(absl::string_view access_token) {
  absl::StatusOr<JwtClaims> claims = ParseJwtClaims(access_token);
  if (!claims.ok()) return std::nullopt;
  return EveCharacterOfSubject(claims->subject);
}

}  // namespace sluice
