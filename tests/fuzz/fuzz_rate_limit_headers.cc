// Fuzzes the rate-limit headers on their way from an upstream answer to the
// throttler: header lines split as the agent's libcurl callback does into a
// HeaderMap (agent/http/header_map.h), the agent's choice of what it forwards
// (IsRateLimitHeader, agent/throttle/rate_limit_headers.h), the wire
// (v1::Header in a v1::Observation), and the coordinator's parser
// (ParseRateLimitHeaders and its building blocks,
// server/throttle/header_parser.h) for ESI and PoE. The input is header
// lines, "Name: value", one per line.
//
// Checks: every value the parser accepts is within what it documents (names
// of 1..64 [A-Za-z0-9._:-], positive token counts and periods, at most a
// week; Retry-After at most kMaxRetryAfter); only the upstream's own headers
// produce limits; a complete PoE policy has tiers for every rule; the
// building blocks agree with the whole; what the agent forwards
// (ForwardedRateLimitHeaders) always parses on the coordinator, and gives the
// throttler exactly the limits and problems all the headers would when none
// was left out as unsendable (it forwards everything the parser reads).
#include <google/protobuf/stubs/logging.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "agent/http/header_map.h"
#include "agent/throttle/rate_limit_headers.h"
#include "common/http_date.h"
#include "server/throttle/header_parser.h"
#include "sluice/v1/throttle.pb.h"

namespace {

using sluice::Duration;
using sluice::TimePoint;
using sluice::throttle::HeaderList;
using sluice::throttle::ParsedHeaders;
using sluice::throttle::Upstream;

// header_parser.cc's bounds (kMaxCount, kMaxPeriodSeconds): values beyond
// them are garbage, never a budget.
constexpr int64_t kMaxCount = 100'000'000;
constexpr int64_t kMaxPeriodSeconds = 7 * 24 * 3600;

const std::string* g_input = nullptr;

void Fail(const std::string& what) {
  std::fprintf(stderr, "invariant broken: %s\n", what.c_str());
  if (g_input != nullptr) {
    std::fprintf(stderr, "input:\n%s\n", g_input->c_str());
  }
  std::abort();
}

void Expect(bool ok, const std::string& what) {
  if (!ok) Fail(what);
}

bool InRange(int64_t v, int64_t lo, int64_t hi) { return v >= lo && v <= hi; }

bool WholePeriod(Duration d) {
  return d > Duration::zero() && d <= std::chrono::seconds(kMaxPeriodSeconds);
}

void CheckBounds(Upstream upstream, const ParsedHeaders& p) {
  if (p.esi_error) {
    Expect(upstream == Upstream::kEsi, "ESI error limit from a PoE answer");
    Expect(InRange(p.esi_error->remain, 0, kMaxCount), "error limit remain out of range");
    if (p.esi_error->reset_seconds) {
      Expect(InRange(*p.esi_error->reset_seconds, 0, kMaxPeriodSeconds),
             "error reset out of range");
    }
  }
  if (p.esi_group) {
    Expect(upstream == Upstream::kEsi, "ESI group from a PoE answer");
    Expect(sluice::throttle::IsSafeName(p.esi_group->group), "unsafe group name");
    Expect(p.esi_group->limit.has_value() == p.esi_group->window.has_value(),
           "group limit without window or the reverse");
    if (p.esi_group->limit) {
      Expect(InRange(*p.esi_group->limit, 1, kMaxCount), "group limit out of range");
      Expect(WholePeriod(*p.esi_group->window), "group window out of range");
    }
    if (p.esi_group->remaining) {
      Expect(InRange(*p.esi_group->remaining, -kMaxCount, kMaxCount), "remaining out of range");
    }
    if (p.esi_group->used) Expect(InRange(*p.esi_group->used, 0, kMaxCount), "used out of range");
  }
  if (p.poe) {
    Expect(upstream == Upstream::kPoe, "PoE limits from an ESI answer");
    Expect(sluice::throttle::IsSafeName(p.poe->policy), "unsafe policy name");
    if (p.poe->complete) Expect(!p.poe->rules.empty(), "complete policy without rules");
    for (const auto& rule : p.poe->rules) {
      Expect(sluice::throttle::IsSafeName(rule.name), "unsafe rule name");
      if (p.poe->complete) Expect(!rule.tiers.empty(), "complete policy with a rule without tiers");
      for (const auto& t : rule.tiers) {
        Expect(InRange(t.hits, 1, kMaxCount), "tier hits out of range");
        Expect(InRange(t.period_seconds, 1, kMaxPeriodSeconds), "tier period out of range");
        Expect(InRange(t.restriction_seconds, 0, kMaxPeriodSeconds),
               "tier restriction out of range");
      }
      if (rule.state) {
        for (const auto& s : *rule.state) {
          Expect(InRange(s.hits, 0, kMaxCount), "state hits out of range");
          Expect(InRange(s.period_seconds, 1, kMaxPeriodSeconds), "state period out of range");
          Expect(InRange(s.active_restriction_seconds, 0, kMaxPeriodSeconds),
                 "state restriction out of range");
        }
      }
    }
  }
  if (p.retry_after) {
    Expect(*p.retry_after >= Duration::zero() && *p.retry_after <= sluice::kMaxRetryAfter,
           "Retry-After out of range");
  }
  for (const auto& problem : p.problems) Expect(!problem.empty(), "an empty problem");
}

// The building blocks on one value, against the documented formats.
void CheckValue(absl::string_view value) {
  if (auto v = sluice::throttle::ParseInteger(value); v.ok()) {
    auto again = sluice::throttle::ParseInteger(absl::StrCat(*v));
    Expect(again.ok() && *again == *v, "an integer does not read back");
  }
  if (auto limit = sluice::throttle::ParseEsiLimit(value); limit.ok()) {
    Expect(InRange(limit->first, 1, kMaxCount), "ESI limit tokens out of range");
    Expect(WholePeriod(limit->second), "ESI limit window out of range");
  }
  if (auto tiers = sluice::throttle::ParsePoeTiers(value); tiers.ok()) {
    Expect(!tiers->empty(), "no tiers parsed from a value");
    for (const auto& t : *tiers) {
      Expect(t.hits > 0 && t.period_seconds > 0 && t.restriction_seconds >= 0, "a bad tier");
    }
    // A valid rule is a valid state too (the same triples, looser).
    Expect(sluice::throttle::ParsePoeTierStates(value).ok(), "tiers that are not states");
  }
}

bool SameTiers(const std::vector<sluice::throttle::PoeTier>& a,
               const std::vector<sluice::throttle::PoeTier>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
    return x.hits == y.hits && x.period_seconds == y.period_seconds &&
           x.restriction_seconds == y.restriction_seconds;
  });
}

bool SameStates(const std::vector<sluice::throttle::PoeTierState>& a,
                const std::vector<sluice::throttle::PoeTierState>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
    return x.hits == y.hits && x.period_seconds == y.period_seconds &&
           x.active_restriction_seconds == y.active_restriction_seconds;
  });
}

bool Same(const ParsedHeaders& a, const ParsedHeaders& b) {
  if (a.esi_error.has_value() != b.esi_error.has_value()) return false;
  if (a.esi_error && (a.esi_error->remain != b.esi_error->remain ||
                      a.esi_error->reset_seconds != b.esi_error->reset_seconds)) {
    return false;
  }
  if (a.esi_group.has_value() != b.esi_group.has_value()) return false;
  if (a.esi_group) {
    const auto& x = *a.esi_group;
    const auto& y = *b.esi_group;
    if (x.group != y.group || x.limit != y.limit || x.window != y.window ||
        x.remaining != y.remaining || x.used != y.used) {
      return false;
    }
  }
  if (a.poe.has_value() != b.poe.has_value()) return false;
  if (a.poe) {
    if (a.poe->policy != b.poe->policy || a.poe->complete != b.poe->complete ||
        a.poe->rules.size() != b.poe->rules.size()) {
      return false;
    }
    for (size_t i = 0; i < a.poe->rules.size(); ++i) {
      const auto& x = a.poe->rules[i];
      const auto& y = b.poe->rules[i];
      if (x.name != y.name || !SameTiers(x.tiers, y.tiers)) return false;
      if (x.state.has_value() != y.state.has_value()) return false;
      if (x.state && !SameStates(*x.state, *y.state)) return false;
    }
  }
  if (a.retry_after != b.retry_after) return false;
  std::vector<std::string> pa = a.problems;
  std::vector<std::string> pb = b.problems;
  std::sort(pa.begin(), pa.end());
  std::sort(pb.begin(), pb.end());
  return pa == pb;
}

// What libcurl's header callback does with each line (agent/http/curl_client.cc):
// the name before the first colon and the value after it, both trimmed.
sluice::agent::HeaderMap SplitLines(std::string_view input) {
  sluice::agent::HeaderMap headers;
  while (!input.empty()) {
    const size_t end = input.find('\n');
    std::string_view line = input.substr(0, end);
    input = end == std::string_view::npos ? std::string_view() : input.substr(end + 1);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name(sluice::agent::TrimWhitespace(line.substr(0, colon)));
    std::string value(sluice::agent::TrimWhitespace(line.substr(colon + 1)));
    if (!name.empty()) headers.Add(std::move(name), std::move(value));
  }
  return headers;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);  // invalid UTF-8 is counted, not logged
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  g_input = &input;
  const sluice::agent::HeaderMap headers = SplitLines(input);
  const TimePoint now{std::chrono::seconds(1796515700)};  // 2026-12-06T00:08:20Z

  HeaderList all;
  size_t rate_limit_headers = 0;
  for (const auto& [name, value] : headers.entries()) {
    all.emplace_back(name, value);
    CheckValue(value);
    if (sluice::agent::IsRateLimitHeader(name)) ++rate_limit_headers;
  }
  sluice::v1::Observation observation;  // as CoordinatorRateGate::Report builds it
  for (auto& [name, value] : sluice::agent::ForwardedRateLimitHeaders(headers)) {
    sluice::v1::Header* h = observation.add_headers();
    h->set_name(name);
    h->set_value(value);
  }
  sluice::v1::Observation received;
  Expect(received.ParseFromString(observation.SerializeAsString()),
         "the forwarded headers do not parse on the coordinator");
  // Every rate-limit header went, unless one could not be sent.
  const bool on_wire = static_cast<size_t>(received.headers_size()) == rate_limit_headers;
  HeaderList forwarded;
  for (const auto& h : received.headers()) forwarded.emplace_back(h.name(), h.value());

  for (Upstream upstream : {Upstream::kEsi, Upstream::kPoe}) {
    const ParsedHeaders parsed = sluice::throttle::ParseRateLimitHeaders(upstream, all, now);
    CheckBounds(upstream, parsed);
    if (!on_wire) continue;
    const ParsedHeaders seen = sluice::throttle::ParseRateLimitHeaders(upstream, forwarded, now);
    Expect(Same(parsed, seen), "the forwarded headers parse differently from all of them");
  }
  g_input = nullptr;
  return 0;
}
