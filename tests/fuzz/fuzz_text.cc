// Fuzzes common/text.h, the checks on outside text before it reaches
// PostgreSQL or an error message: CheckText, CheckStorableJson, QuotePrefix,
// SanitizeForStorage. The first byte picks the size limit, the rest is the
// text.
//
// Checks: what QuotePrefix and SanitizeForStorage return passes CheckText
// (valid UTF-8, no control characters) and is bounded by the limit;
// CheckText accepts exactly the texts SanitizeForStorage leaves unchanged;
// CheckStorableJson refuses a NUL byte, and accepts a JSON text exactly when
// no string or key in it holds U+0000 (PostgreSQL stores neither).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/text.h"

namespace {

constexpr size_t kNoLimit = std::numeric_limits<size_t>::max();

void Fail(const char* what, absl::string_view text) {
  std::fprintf(stderr, "invariant broken: %s (%zu bytes)\n", what, text.size());
  std::abort();
}

bool Clean(absl::string_view s) { return sluice::CheckText("t", s, 0, kNoLimit).ok(); }

// Whether any string or key in `value` holds U+0000; iterative, so a deeply
// nested input cannot overflow the stack here.
bool HoldsNul(const nlohmann::json& value) {
  std::vector<const nlohmann::json*> todo = {&value};
  while (!todo.empty()) {
    const nlohmann::json* v = todo.back();
    todo.pop_back();
    if (v->is_string() && v->get_ref<const std::string&>().find('\0') != std::string::npos) {
      return true;
    }
    if (v->is_object()) {
      for (auto it = v->begin(); it != v->end(); ++it) {
        if (it.key().find('\0') != std::string::npos) return true;
        todo.push_back(&it.value());
      }
    } else if (v->is_array()) {
      for (const auto& e : *v) todo.push_back(&e);
    }
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t limit = data[0];
  const absl::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  const std::string quoted = sluice::QuotePrefix(text, limit);
  if (!Clean(quoted)) Fail("QuotePrefix output is not clean text", text);
  // '"' + at most `limit` bytes + '"' + "...[<size> bytes]".
  if (quoted.size() > limit + 2 + 32) Fail("QuotePrefix output too long", text);

  const std::string sanitized = sluice::SanitizeForStorage(text, limit);
  if (!Clean(sanitized)) Fail("SanitizeForStorage output is not clean text", text);
  if (sanitized.size() > limit + 3) Fail("SanitizeForStorage output too long", text);

  const bool clean = Clean(text);
  if (clean != (sluice::SanitizeForStorage(text, kNoLimit) == text)) {
    Fail("CheckText and SanitizeForStorage disagree", text);
  }
  if (clean && !sluice::CheckStorableJson("t", text).ok() && text.find("\\u0000") == text.npos) {
    Fail("clean text without a \\u0000 escape refused as JSON", text);
  }

  // nlohmann's parser (the agent's and the coordinator's) stops at a NUL
  // byte as at the end of the input, so "{}\0<anything>" parses: a raw NUL
  // is judged by the check alone.
  const bool storable = sluice::CheckStorableJson("t", text).ok();
  const bool raw_nul = text.find('\0') != absl::string_view::npos;
  if (storable && raw_nul) Fail("CheckStorableJson accepted a NUL byte", text);
  // The parser callback sees every key and value, also those of a duplicate
  // key the parsed object keeps only the last of: PostgreSQL refuses a NUL
  // escape anywhere in the text, not only where the value survives.
  bool nul_anywhere = false;
  nlohmann::json parsed = nlohmann::json::parse(
      text.begin(), text.end(),
      [&](int, nlohmann::json::parse_event_t, nlohmann::json& v) {
        if (HoldsNul(v)) nul_anywhere = true;
        return true;
      },
      /*allow_exceptions=*/false);
  if (!parsed.is_discarded() && !raw_nul && storable == nul_anywhere) {
    Fail("CheckStorableJson misjudged a JSON text", text);
  }
  return 0;
}
