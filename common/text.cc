#include "common/text.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace sluice {
namespace {

// Length of the UTF-8 sequence at s[i] if it is a valid, shortest-form
// encoding of a code point that is not a surrogate; 0 otherwise.
size_t Utf8Length(absl::string_view s, size_t i, uint32_t* cp) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  size_t n;
  uint32_t v;
  if (c < 0x80) {
    *cp = c;
    return 1;
  } else if ((c & 0xE0) == 0xC0) {
    n = 2;
    v = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    v = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    v = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    const unsigned char cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) return 0;
    v = (v << 6) | (cc & 0x3F);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (v < kMin[n] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return n;
}

bool IsControl(uint32_t cp) { return cp < 0x20 || cp == 0x7F; }

// Escapes what cannot be stored or shown as is; stops before max_bytes of
// output. Returns how many input bytes were consumed.
size_t AppendClean(absl::string_view s, size_t max_bytes, std::string* out) {
  size_t i = 0;
  while (i < s.size()) {
    uint32_t cp = 0;
    const size_t n = Utf8Length(s, i, &cp);
    std::string piece;
    if (n == 0) {
      piece = absl::StrFormat("\\x%02x", static_cast<unsigned char>(s[i]));
    } else if (IsControl(cp)) {
      piece = absl::StrFormat("\\x%02x", cp);
    } else {
      piece = std::string(s.substr(i, n));
    }
    if (out->size() + piece.size() > max_bytes) break;
    out->append(piece);
    i += n == 0 ? 1 : n;
  }
  return i;
}

}  // namespace

std::string QuotePrefix(absl::string_view s, size_t max_bytes) {
  std::string out = "\"";
  const size_t used = AppendClean(s, max_bytes + 1, &out);
  out += "\"";
  if (used < s.size()) absl::StrAppend(&out, "...[", s.size(), " bytes]");
  return out;
}

absl::Status CheckText(absl::string_view field, absl::string_view s, size_t min_chars,
                       size_t max_chars) {
  size_t chars = 0;
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = 0;
    const size_t n = Utf8Length(s, i, &cp);
    if (n == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": not valid UTF-8 at byte ", i, ": ", QuotePrefix(s)));
    }
    if (IsControl(cp)) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": control character U+",
                                                     absl::Hex(cp, absl::kZeroPad4), " at byte ", i,
                                                     ": ", QuotePrefix(s)));
    }
    ++chars;
    if (chars > max_chars) break;
    i += n;
  }
  if (chars < min_chars || chars > max_chars) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": ", chars > max_chars ? "more than " : "", chars > max_chars ? max_chars : chars,
        " character(s); must be ", min_chars, "..", max_chars, ": ", QuotePrefix(s)));
  }
  return absl::OkStatus();
}

absl::Status CheckStorableJson(absl::string_view field, absl::string_view s) {
  size_t backslashes = 0;  // consecutive, just before i
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = 0;
    const size_t n = Utf8Length(s, i, &cp);
    if (n == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": not valid UTF-8 at byte ", i, ": ", QuotePrefix(s.substr(i))));
    }
    // A raw NUL: PostgreSQL's text stores none, and a JSON parser may stop
    // there (nlohmann's does), leaving what follows unchecked.
    if (cp == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": a NUL byte at byte ", i,
                       " (PostgreSQL stores no U+0000): ", QuotePrefix(s.substr(i))));
    }
    // An odd run of backslashes escapes what follows: "\\u0000" is text.
    if (cp == 'u' && backslashes % 2 == 1 && s.substr(i + 1, 4) == "0000") {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": a \\u0000 escape at byte ", i - 1,
                       " (PostgreSQL stores no U+0000): ", QuotePrefix(s.substr(i - 1))));
    }
    backslashes = cp == '\\' ? backslashes + 1 : 0;
    i += n;
  }
  return absl::OkStatus();
}

std::string SanitizeForStorage(absl::string_view s, size_t max_bytes) {
  std::string out;
  const size_t used = AppendClean(s, max_bytes, &out);
  if (used < s.size()) out += "...";
  return out;
}

}  // namespace sluice
