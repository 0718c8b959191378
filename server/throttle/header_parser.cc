#include "server/throttle/header_parser.h"

#include <array>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace sluice::throttle {
namespace {

// Upper bounds that no real upstream approaches; anything beyond is treated as
// garbage rather than as a budget (a "limit" of 10^15 would widen everything).
constexpr int64_t kMaxCount = 100'000'000;
constexpr int64_t kMaxPeriodSeconds = 7 * 24 * 3600;

std::string Quote(absl::string_view value) {
  // Values are echoed into logs: bound their length.
  constexpr size_t kMax = 80;
  if (value.size() > kMax) return absl::StrCat("'", value.substr(0, kMax), "...'");
  return absl::StrCat("'", value, "'");
}

void AddProblem(ParsedHeaders* out, absl::string_view header, absl::string_view value,
                absl::string_view why) {
  out->problems.push_back(absl::StrCat(header, ": ", Quote(value), ": ", why));
}

// Lower-cased name -> first value.
using HeaderIndex = absl::flat_hash_map<std::string, absl::string_view>;

HeaderIndex Index(const HeaderList& headers) {
  HeaderIndex index;
  index.reserve(headers.size());
  for (const auto& [name, value] : headers) {
    index.emplace(absl::AsciiStrToLower(name), value);
  }
  return index;
}

std::optional<absl::string_view> Find(const HeaderIndex& index, absl::string_view lower_name) {
  auto it = index.find(lower_name);
  if (it == index.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<std::vector<std::array<int64_t, 3>>> ParseTriples(absl::string_view text) {
  std::vector<std::array<int64_t, 3>> out;
  text = absl::StripAsciiWhitespace(text);
  if (text.empty()) return absl::InvalidArgumentError("empty");
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    std::vector<absl::string_view> fields = absl::StrSplit(part, ':');
    if (fields.size() != 3) {
      return absl::InvalidArgumentError(
          absl::StrCat("tier ", Quote(part), " is not hits:period:restriction"));
    }
    std::array<int64_t, 3> triple{};
    for (size_t i = 0; i < 3; ++i) {
      absl::StatusOr<int64_t> v = ParseInteger(fields[i]);
      if (!v.ok()) return v.status();
      if (*v < 0) return absl::InvalidArgumentError("negative value");
      triple[i] = *v;
    }
    if (triple[0] > kMaxCount || triple[1] > kMaxPeriodSeconds || triple[2] > kMaxPeriodSeconds) {
      return absl::InvalidArgumentError("value out of range");
    }
    out.push_back(triple);
  }
  return out;
}

void ParseEsi(const HeaderIndex& index, ParsedHeaders* out) {
  // Error limit.
  if (auto remain = Find(index, "x-esi-error-limit-remain")) {
    absl::StatusOr<int64_t> r = ParseInteger(*remain);
    if (!r.ok() || *r < 0 || *r > kMaxCount) {
      AddProblem(out, "X-ESI-Error-Limit-Remain", *remain, "not a non-negative integer");
    } else {
      EsiErrorLimit limit;
      limit.remain = *r;
      if (auto reset = Find(index, "x-esi-error-limit-reset")) {
        absl::StatusOr<int64_t> s = ParseInteger(*reset);
        if (!s.ok() || *s < 0 || *s > kMaxPeriodSeconds) {
          AddProblem(out, "X-ESI-Error-Limit-Reset", *reset, "not a non-negative integer");
        } else {
          limit.reset_seconds = *s;
        }
      }
      out->esi_error = limit;
    }
  } else if (auto reset = Find(index, "x-esi-error-limit-reset")) {
    AddProblem(out, "X-ESI-Error-Limit-Reset", *reset, "without X-ESI-Error-Limit-Remain");
  }

  // Rate-limit group.
  auto group = Find(index, "x-ratelimit-group");
  if (!group) {
    for (const char* orphan : {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-used"}) {
      if (auto v = Find(index, orphan)) {
        AddProblem(out, orphan, *v, "without X-Ratelimit-Group");
      }
    }
    return;
  }
  absl::string_view name = absl::StripAsciiWhitespace(*group);
  if (!IsSafeName(name)) {
    AddProblem(out, "X-Ratelimit-Group", *group, "not a group name of [A-Za-z0-9._:-]");
    return;
  }
  EsiGroupLimit g;
  g.group = std::string(name);
  if (auto limit = Find(index, "x-ratelimit-limit")) {
    auto parsed = ParseEsiLimit(*limit);
    if (!parsed.ok()) {
      AddProblem(out, "X-Ratelimit-Limit", *limit, parsed.status().message());
    } else {
      g.limit = parsed->first;
      g.window = parsed->second;
    }
  }
  if (auto remaining = Find(index, "x-ratelimit-remaining")) {
    absl::StatusOr<int64_t> r = ParseInteger(*remaining);
    if (!r.ok() || *r > kMaxCount || *r < -kMaxCount) {
      AddProblem(out, "X-Ratelimit-Remaining", *remaining, "not an integer");
    } else {
      g.remaining = *r;
    }
  }
  if (auto used = Find(index, "x-ratelimit-used")) {
    absl::StatusOr<int64_t> u = ParseInteger(*used);
    if (!u.ok() || *u < 0 || *u > kMaxCount) {
      AddProblem(out, "X-Ratelimit-Used", *used, "not a non-negative integer");
    } else {
      g.used = *u;
    }
  }
  out->esi_group = std::move(g);
}

void ParsePoe(const HeaderIndex& index, ParsedHeaders* out) {
  constexpr absl::string_view kPrefix = "x-rate-limit-";
  auto policy = Find(index, "x-rate-limit-policy");
  auto rules = Find(index, "x-rate-limit-rules");
  if (!policy) {
    if (rules) AddProblem(out, "X-Rate-Limit-Rules", *rules, "without X-Rate-Limit-Policy");
    return;
  }
  absl::string_view policy_name = absl::StripAsciiWhitespace(*policy);
  if (!IsSafeName(policy_name)) {
    AddProblem(out, "X-Rate-Limit-Policy", *policy, "not a policy name of [A-Za-z0-9._:-]");
    return;
  }
  PoeLimits limits;
  limits.policy = std::string(policy_name);
  if (!rules) {
    AddProblem(out, "X-Rate-Limit-Policy", *policy, "without X-Rate-Limit-Rules");
    out->poe = std::move(limits);
    return;
  }
  bool complete = true;
  std::vector<std::string> known;  // lower-case rule names
  for (absl::string_view raw : absl::StrSplit(*rules, ',')) {
    absl::string_view rule_name = absl::StripAsciiWhitespace(raw);
    if (!IsSafeName(rule_name)) {
      AddProblem(out, "X-Rate-Limit-Rules", *rules, "not a list of rule names");
      complete = false;
      continue;
    }
    std::string lower = absl::AsciiStrToLower(rule_name);
    known.push_back(lower);
    PoeRule rule;
    rule.name = std::string(rule_name);
    std::string header = absl::StrCat("X-Rate-Limit-", rule_name);
    auto tiers_text = Find(index, absl::StrCat(kPrefix, lower));
    if (!tiers_text) {
      AddProblem(out, header, "", "missing for a listed rule");
      complete = false;
    } else {
      auto tiers = ParsePoeTiers(*tiers_text);
      if (!tiers.ok()) {
        AddProblem(out, header, *tiers_text, tiers.status().message());
        complete = false;
      } else {
        rule.tiers = *std::move(tiers);
      }
    }
    if (auto state_text = Find(index, absl::StrCat(kPrefix, lower, "-state"))) {
      auto state = ParsePoeTierStates(*state_text);
      if (!state.ok()) {
        AddProblem(out, absl::StrCat(header, "-State"), *state_text, state.status().message());
      } else {
        rule.state = *std::move(state);
      }
    }
    limits.rules.push_back(std::move(rule));
  }
  if (limits.rules.empty()) complete = false;
  limits.complete = complete;
  // Headers for rules nobody listed: unknown, so reported and ignored.
  for (const auto& [name, value] : index) {
    if (!absl::StartsWith(name, kPrefix) || name.size() == kPrefix.size()) continue;
    absl::string_view rest = absl::string_view(name).substr(kPrefix.size());
    if (rest == "policy" || rest == "rules") continue;
    absl::string_view base = rest;
    if (absl::EndsWith(base, "-state")) base.remove_suffix(6);
    bool listed = false;
    for (const std::string& k : known) listed = listed || k == base;
    if (!listed) AddProblem(out, name, value, "rule not listed in X-Rate-Limit-Rules");
  }
  out->poe = std::move(limits);
}

}  // namespace

bool IsSafeName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '.' || c == ':' || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

absl::StatusOr<int64_t> ParseInteger(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  int64_t v = 0;
  if (text.empty() || !absl::SimpleAtoi(text, &v)) {
    return absl::InvalidArgumentError(absl::StrCat(Quote(text), " is not an integer"));
  }
  return v;
}

absl::StatusOr<std::pair<int64_t, Duration>> ParseEsiLimit(absl::string_view text) {
  std::vector<absl::string_view> parts = absl::StrSplit(absl::StripAsciiWhitespace(text), '/');
  if (parts.size() != 2) return absl::InvalidArgumentError("not tokens/window");
  absl::StatusOr<int64_t> tokens = ParseInteger(parts[0]);
  if (!tokens.ok() || *tokens <= 0 || *tokens > kMaxCount) {
    return absl::InvalidArgumentError("token count must be a positive integer");
  }
  absl::string_view window = absl::StripAsciiWhitespace(parts[1]);
  if (window.empty()) return absl::InvalidArgumentError("missing window");
  int64_t unit_seconds = 0;
  switch (window.back()) {
    case 's':
      unit_seconds = 1;
      break;
    case 'm':
      unit_seconds = 60;
      break;
    case 'h':
      unit_seconds = 3600;
      break;
    case 'd':
      unit_seconds = 86400;
      break;
    default:
      return absl::InvalidArgumentError("window unit must be s, m, h or d");
  }
  window.remove_suffix(1);
  int64_t count = 1;
  if (!window.empty()) {
    absl::StatusOr<int64_t> c = ParseInteger(window);
    if (!c.ok() || *c <= 0) return absl::InvalidArgumentError("window count must be positive");
    count = *c;
  }
  if (count > kMaxPeriodSeconds / unit_seconds)
    return absl::InvalidArgumentError("window too long");
  return std::make_pair(*tokens, Duration(std::chrono::seconds(count * unit_seconds)));
}

absl::StatusOr<std::vector<PoeTier>> ParsePoeTiers(absl::string_view text) {
  auto triples = ParseTriples(text);
  if (!triples.ok()) return triples.status();
  std::vector<PoeTier> out;
  for (const auto& t : *triples) {
    if (t[0] <= 0 || t[1] <= 0) {
      return absl::InvalidArgumentError("hits and period must be positive");
    }
    out.push_back(PoeTier{t[0], t[1], t[2]});
  }
  return out;
}

absl::StatusOr<std::vector<PoeTierState>> ParsePoeTierStates(absl::string_view text) {
  auto triples = ParseTriples(text);
  if (!triples.ok()) return triples.status();
  std::vector<PoeTierState> out;
  for (const auto& t : *triples) {
    if (t[1] <= 0) return absl::InvalidArgumentError("period must be positive");
    out.push_back(PoeTierState{t[0], t[1], t[2]});
  }
  return out;
}

ParsedHeaders ParseRateLimitHeaders(Upstream upstream, const HeaderList& headers, TimePoint now) {
  ParsedHeaders out;
  HeaderIndex index = Index(headers);
  if (upstream == Upstream::kEsi) {
    ParseEsi(index, &out);
  } else {
    ParsePoe(index, &out);
  }
  if (auto retry = Find(index, "retry-after")) {
    auto parsed = ParseRetryAfter(*retry, now);
    if (!parsed.ok()) {
      AddProblem(&out, "Retry-After", *retry, parsed.status().message());
    } else {
      out.retry_after = *parsed;
    }
  }
  return out;
}

}  // namespace sluice::throttle
