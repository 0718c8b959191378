#include "server/workflows/etl/price_parser.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <vector>

namespace sluice::etl {
namespace {

std::vector<std::string_view> Words(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    size_t j = i;
    while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j]))) ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

std::optional<double> ParseDecimal(std::string_view s) {
  if (s.empty()) return std::nullopt;
  bool dot = false;
  bool digit = false;
  for (char c : s) {
    if (c == '.') {
      if (dot) return std::nullopt;
      dot = true;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      digit = true;
    } else {
      return std::nullopt;
    }
  }
  if (!digit) return std::nullopt;
  return std::strtod(std::string(s).c_str(), nullptr);
}

bool ValidCurrency(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '\'') {
      return false;
    }
  }
  return std::isalpha(static_cast<unsigned char>(s[0]));
}

}  // namespace

std::optional<double> ParseAmount(std::string_view text) {
  std::optional<double> value;
  if (size_t slash = text.find('/'); slash != std::string_view::npos) {
    auto num = ParseDecimal(text.substr(0, slash));
    auto den = ParseDecimal(text.substr(slash + 1));
    if (!num || !den || *den == 0) return std::nullopt;
    value = *num / *den;
  } else {
    value = ParseDecimal(text);
  }
  if (!value || !std::isfinite(*value) || *value <= 0) return std::nullopt;
  return value;
}

std::optional<Price> ParsePrice(std::string_view text) {
  // PoE reads the marker at the start of the note / tab name.
  std::vector<std::string_view> w = Words(text);
  if (w.size() < 3) return std::nullopt;
  Price p;
  if (w[0] == "~price") {
    p.kind = "price";
  } else if (w[0] == "~b/o") {
    p.kind = "b/o";
  } else {
    return std::nullopt;
  }
  auto amount = ParseAmount(w[1]);
  if (!amount || !ValidCurrency(w[2])) return std::nullopt;
  p.amount = *amount;
  p.currency.reserve(w[2].size());
  for (char c : w[2]) {
    p.currency.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return p;
}

std::optional<ResolvedPrice> ResolvePrice(std::string_view item_note, std::string_view stash_name) {
  if (auto p = ParsePrice(item_note)) return ResolvedPrice{*p, "item"};
  if (auto p = ParsePrice(stash_name)) return ResolvedPrice{*p, "stash"};
  return std::nullopt;
}

}  // namespace sluice::etl
