// EsiMeter decides who pays for an ESI request and keeps that payer's
// budgets, as esi-docs "Rate Limiting" describes the real service
// (https://developers.eveonline.com/docs/services/esi/rate-limiting/,
// section "Bucket System"): "Each rate limit group and userID pair is
// assigned their own bucket", the userID being <applicationID>:<characterID>
// of the access token on authenticated routes and the source IP otherwise.
// The simulator assumes one application, so a caller is "char:<id>" for a
// request carrying a token it knows and "ip:<address>" for any other. The
// error limit ("Best Practices", section "Error limit") is kept per source
// address: "ip:<address>".
//
// Under Metering::kGlobal every caller and address pays into one shared
// bucket per group and one shared error limit (key "global"), the
// simulator's original model.
//
// Buckets live in LimiterTables (created on demand, idle ones dropped), so
// 100,000 callers cost memory for the active ones and O(1) work per request;
// only the /sim/stats and /sim/buckets views walk a table.
//
// Ownership: owned by the Simulator; hands out shared limiters that requests
// hold between admission and settlement. The Clock is borrowed.
// Thread-safety: all methods are safe to call concurrently.
#ifndef SLUICE_SIM_ESI_METER_H_
#define SLUICE_SIM_ESI_METER_H_

#include <map>
#include <memory>
#include <string>

#include <absl/status/statusor.h>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "sim/config.h"
#include "sim/esi_limits.h"
#include "sim/limiter_table.h"

namespace sluice::sim {

class EsiMeter {
 public:
  EsiMeter(const SimConfig& config, const Clock* clock);

  // "char:123" / "ip:127.0.0.1", the forms callers take in stats.
  static std::string CharacterCaller(int64_t character_id);
  static std::string AddressCaller(const std::string& remote_addr);

  // The bucket `caller` spends from for `group`; null when the group is not
  // configured (the route then has no group limit).
  std::shared_ptr<GroupLimiter> Group(const std::string& group, const std::string& caller);
  // The error limit of `address` (an AddressCaller).
  std::shared_ptr<ErrorLimiter> Errors(const std::string& address);

  Metering metering() const { return metering_; }

  // {"alliance": {"limit": "600/1m", "callers": 2, "most_used": [{"caller":
  //  "char:1", "remaining": 590, "used": 10}, ...]}}: `callers` counts the
  // buckets with tokens out; most_used lists at most kMostUsed of them.
  nlohmann::json GroupsJson() const;
  // {"budget": 100, "window_seconds": 60, "addresses": 1, "limited_addresses": 0,
  //  "least_remaining": [{"address": "ip:127.0.0.1", "remain": 98,
  //  "reset_seconds": 41, "limited": false}, ...]}: `addresses` counts those
  // with an error window open.
  nlohmann::json ErrorLimitJson() const;
  // One caller's buckets in full: {"caller", "metering", "groups": {name:
  // {"limit", "remaining", "used"}}, "error_limit": {...}}; error_limit only
  // for an address caller. InvalidArgument for a caller of neither form.
  absl::StatusOr<nlohmann::json> BucketsJson(const std::string& caller) const;

  // Refills every bucket and error limit.
  void Reset();
  // Buckets and error limits held (idle ones not yet swept included).
  size_t size() const;

  static constexpr size_t kMostUsed = 5;

 private:
  // The table key a caller pays under.
  std::string KeyOf(const std::string& caller) const;

  const Metering metering_;
  const int error_budget_;
  const int error_window_seconds_;
  std::map<std::string, EsiGroupLimit> limits_;  // immutable after construction
  // One table per configured group; the map itself is immutable.
  std::map<std::string, std::unique_ptr<LimiterTable<GroupLimiter>>> groups_;
  LimiterTable<ErrorLimiter> errors_;
};

}  // namespace sluice::sim

#endif  // SLUICE_SIM_ESI_METER_H_
