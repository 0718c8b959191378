// PoeRoutes serves Path of Exile's public stream endpoints with generated,
// deterministic content:
//   - public stash tabs: a stream of pages addressed by change ids
//     ("1003-2005-3007-4002-5004", one counter per shard). Page n's content
//     is a pure function of (realm, n); its next_change_id is page n+1's id.
//     The stream grows with the clock: `backlog_pages` pages exist when the
//     simulator starts and `pages_per_second` more appear every second. At
//     the head (and for an id that is not on the stream) the answer is an
//     empty page whose next_change_id is the id asked for.
//   - currency exchange: /currency-exchange/<hour> answers the markets traded
//     in that (ended) hour and next_change_id = the next hour; the current
//     hour is not served yet (same id, no markets). Configured missing hours
//     are served without markets; configured skipped hours are jumped over
//     by the previous hour's next_change_id.
//
// Stream shape is process-wide (SetStreamConfig, or SIM_POE_* environment
// variables read once): the Simulator builds PoeRoutes with its clock only.
//
// Ownership: borrows the Clock.
// Thread-safety: immutable after construction; safe to share.
#ifndef SLUICE_SIM_POE_ROUTES_H_
#define SLUICE_SIM_POE_ROUTES_H_

#include <absl/strings/string_view.h>
#include <cstdint>
#include <set>
#include <string>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "sim/http_util.h"

namespace sluice::sim {

inline constexpr char kPoeStashPolicy[] = "public-stash-request-limit";
inline constexpr char kPoeExchangePolicy[] = "currency-exchange-request-limit";

struct PoeMatch {
  enum class Kind { kUnknown, kStash, kExchange };
  Kind kind = Kind::kUnknown;
  std::string route;   // template, e.g. "/currency-exchange/{id}"
  std::string policy;  // kPoeStashPolicy or kPoeExchangePolicy; empty if unknown
  std::string realm;   // "" (PC), "xbox" or "sony"
  std::string id;      // exchange hour as given; empty when absent
};

struct PoeStreamConfig {
  // Environment: SIM_POE_BACKLOG_PAGES, SIM_POE_PAGES_PER_SECOND,
  // SIM_POE_STASHES_PER_PAGE, SIM_POE_MISSING_HOURS, SIM_POE_SKIPPED_HOURS
  // (hours: comma-separated unix times).
  int64_t backlog_pages = 20;
  double pages_per_second = 1.0;
  int stashes_per_page = 20;
  std::set<int64_t> missing_hours;
  std::set<int64_t> skipped_hours;

  static PoeStreamConfig FromEnvironment();
};

class PoeRoutes {
 public:
  // Uses the process-wide stream config; the stream's origin is clock->Now().
  explicit PoeRoutes(const Clock* clock);
  PoeRoutes(const Clock* clock, PoeStreamConfig config);

  // The config later PoeRoutes(clock) are built with.
  static void SetStreamConfig(const PoeStreamConfig& config);
  static PoeStreamConfig StreamConfig();

  // True for paths under PoE's endpoints, which the Simulator routes here.
  static bool Owns(absl::string_view path);
  PoeMatch Match(absl::string_view path) const;
  Reply Serve(const PoeMatch& match, const httplib::Request& request) const;

  // The change id of stash page n (n = 0 is the page served without an id),
  // and back (nullopt for an id not on the stream).
  static std::string ChangeIdOf(int64_t page);
  static std::optional<int64_t> PageOf(absl::string_view change_id);
  // Pages published by now: 0..n-1 have content.
  int64_t AvailablePages() const;
  // Page n's stashes, as served (deterministic).
  nlohmann::json StashesOf(const std::string& realm, int64_t page) const;
  // The markets of an ended hour (empty for a missing hour), as served.
  nlohmann::json MarketsOf(const std::string& realm, int64_t hour) const;

 private:
  Reply StashPage(const std::string& realm, const std::string& change_id) const;
  Reply ExchangePage(const std::string& realm, int64_t hour) const;

  const Clock* const clock_;
  const PoeStreamConfig config_;
  const TimePoint origin_;
};

}  // namespace sluice::sim

#endif  // SLUICE_SIM_POE_ROUTES_H_
