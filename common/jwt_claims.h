// The claims Sluice reads from an OAuth access token that is a JWT (EVE
// SSO's access tokens are; esi-docs, docs/services/sso, "Validating JWT
// Tokens"): `exp` (when it expires), `sub` (whose it is) and `scp` (the
// scopes granted: one string or an array of them).
//
// The signature is not checked: Sluice reads tokens it received itself from
// the token endpoint over TLS, to know when to refresh them and what they
// may be used for; a token it was handed is never trusted to grant anything
// here (the upstream checks it on every call).
//
// Thread-safety: pure functions.
#ifndef SLUICE_COMMON_JWT_CLAIMS_H_
#define SLUICE_COMMON_JWT_CLAIMS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/clock.h"

namespace sluice {

struct JwtClaims {
  std::string subject;              // `sub`; empty when absent
  std::optional<TimePoint> expires;  // `exp`; nullopt when absent
  std::vector<std::string> scopes;  // `scp` ("a" or ["a","b"]); empty when absent
};

// INVALID_ARGUMENT saying what is wrong: not three dot-separated parts, a
// payload that is not base64url or not a JSON object, an `exp` that is not
// a positive number, a `sub` that is not a string, an `scp` that is neither a
// string nor an array of strings. Never echoes the token.
absl::StatusOr<JwtClaims> ParseJwtClaims(absl::string_view jwt);

// The character of an EVE SSO subject, "CHARACTER:EVE:<id>" (the docs have
// also shown "EVE:CHARACTER:<id>"); nullopt for anything else.
std::optional<int64_t> EveCharacterOfSubject(absl::string_view subject);

}  // namespace sluice

#endif  // SLUICE_COMMON_JWT_CLAIMS_H_
