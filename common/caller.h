// How Sluice names whom an upstream bills a call to (the throttler's
// "caller", see server/throttle/call_key.h). One spelling, shared by the
// coordinator, which sets a task's caller, and the agent, which derives the
// caller of the token it was configured with.
//
// ESI bills an authenticated call to `<application>:<character>` from the
// access token (esi-docs, "Rate Limiting", "Bucket System"). A deployment
// uses one application, so the character names the bucket.
//
// Thread-safety: pure functions.
#ifndef SLUICE_COMMON_CALLER_H_
#define SLUICE_COMMON_CALLER_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace sluice {

// "char:<id>".
std::string EsiCharacterCaller(int64_t character_id);

// The character an EVE SSO access token (a JWT) was issued for, from its
// `sub` claim ("CHARACTER:EVE:<id>"; esi-docs, "SSO"), or nullopt if the
// token is not such a JWT. The signature is not checked: this only names a
// budget, it grants nothing.
std::optional<int64_t> EsiTokenCharacter(absl::string_view access_token);

}  // namespace sluice

#endif  // SLUICE_COMMON_CALLER_H_
