// Text that comes from outside (an upstream body, an agent's request) on its
// way into the database or an error message: checked where the wire meets
// the domain, so PostgreSQL never sees a NUL byte or invalid UTF-8 (which it
// refuses, failing the whole transaction) and no error repeats an input of
// megabytes.
//
// Plain functions; thread-safe.
#ifndef SLUICE_COMMON_TEXT_H_
#define SLUICE_COMMON_TEXT_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace sluice {

// At most about max_bytes of `s` for an error message or a log line: cut at
// a character boundary, control characters and invalid bytes escaped, and
// the full size named when cut ("...[1048576 bytes]"). Quoted.
std::string QuotePrefix(absl::string_view s, size_t max_bytes = 64);

// OK if `s` is valid UTF-8 without control characters (U+0000-U+001F,
// U+007F) and has min_chars..max_chars characters (code points); otherwise
// INVALID_ARGUMENT naming `field` and quoting a bounded prefix.
absl::Status CheckText(absl::string_view field, absl::string_view s, size_t min_chars,
                       size_t max_chars);

// OK if the JSON text `s` can be stored as text or jsonb: valid UTF-8, no NUL
// byte and no \u0000 escape (PostgreSQL refuses all three; a JSON parser
// accepts the escape, and nlohmann's stops at a NUL byte as at the end).
// Whether it is JSON at all is the caller's check. Otherwise INVALID_ARGUMENT
// naming `field`.
absl::Status CheckStorableJson(absl::string_view field, absl::string_view s);

// `s` made storable and bounded, for diagnostics that must be kept whatever
// they hold (an upstream's error text): invalid bytes and control characters
// escaped, cut to at most about max_bytes at a character boundary.
std::string SanitizeForStorage(absl::string_view s, size_t max_bytes);

}  // namespace sluice

#endif  // SLUICE_COMMON_TEXT_H_
