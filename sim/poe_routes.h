// PoeRoutes serves Path of Exile's public stream endpoints: public stash tabs
// (cursor = next_change_id) and the hourly currency exchange (cursor = unix
// hour). Today the pages are empty but well-formed; stash and market content
// belongs in StashPage() and ExchangePage().
//
// Ownership: borrows the Clock.
// Thread-safety: stateless; safe to share.
#ifndef SLUICE_SIM_POE_ROUTES_H_
#define SLUICE_SIM_POE_ROUTES_H_

#include <cstdint>
#include <string>
#include <absl/strings/string_view.h>

#include <httplib.h>

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

class PoeRoutes {
 public:
  explicit PoeRoutes(const Clock* clock);

  // True for paths under PoE's endpoints, which the Simulator routes here.
  static bool Owns(absl::string_view path);
  PoeMatch Match(absl::string_view path) const;
  Reply Serve(const PoeMatch& match, const httplib::Request& request) const;

 private:
  Reply StashPage(const std::string& realm, const std::string& change_id) const;
  Reply ExchangePage(const std::string& realm, int64_t hour) const;

  const Clock* const clock_;
};

}  // namespace sluice::sim

#endif  // SLUICE_SIM_POE_ROUTES_H_
