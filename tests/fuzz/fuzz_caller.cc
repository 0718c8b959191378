// Fuzzes common/caller.h EsiTokenCharacter: the character an ESI SSO access
// token (a JWT the operator configures, or a character's token from the
// coordinator) names, read from its base64url JSON payload. The input is
// tried as a whole token and as the JSON payload of a token.
//
// Checks: a character is positive and its caller name ("char:<id>") reads
// back as it; the signature part does not matter (it is not checked); the
// canonical token of that character names it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/caller.h"

namespace {

void Fail(const char* what, absl::string_view token) {
  std::fprintf(stderr, "invariant broken: %s (token '%.*s')\n", what,
               static_cast<int>(token.size()), token.data());
  std::abort();
}

// header.payload.signature with the payload as given.
std::string Token(absl::string_view payload, absl::string_view signature) {
  return absl::StrCat("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.", absl::WebSafeBase64Escape(payload),
                      ".", signature);
}

void Check(absl::string_view token) {
  std::optional<int64_t> character = sluice::EsiTokenCharacter(token);
  // Another signature: same answer.
  const size_t last_dot = token.rfind('.');
  if (last_dot != absl::string_view::npos) {
    std::string resigned = absl::StrCat(token.substr(0, last_dot), ".AAAA");
    if (sluice::EsiTokenCharacter(resigned) != character)
      Fail("the signature changed the answer", token);
  }
  if (!character) return;
  if (*character <= 0) Fail("a character id that is not positive", token);
  const std::string caller = sluice::EsiCharacterCaller(*character);
  int64_t back = 0;
  if (!absl::StartsWith(caller, "char:") ||
      !absl::SimpleAtoi(absl::string_view(caller).substr(5), &back) || back != *character) {
    Fail("caller name does not read back", token);
  }
  const std::string canonical =
      Token(absl::StrCat("{\"sub\":\"CHARACTER:EVE:", *character, "\"}"), "c2ln");
  if (sluice::EsiTokenCharacter(canonical) != character) Fail("canonical token differs", token);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  Check(input);
  Check(Token(input, "c2lnbmF0dXJl"));
  return 0;
}
