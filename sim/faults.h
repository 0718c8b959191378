// FaultInjector decides, per upstream request, which of the configured faults
// to inject: a random 5xx, a delay, a malformed 200 body, or a 429 stripped of
// its rate-limit headers. Draws come from one RNG seeded from the simulator
// seed, so a single-threaded test sees the same faults on every run.
//
// Ownership: owned by the Simulator.
// Thread-safety: all methods are safe to call concurrently; Set() takes effect
// for requests that draw after it returns.
#ifndef SLUICE_SIM_FAULTS_H_
#define SLUICE_SIM_FAULTS_H_

#include <cstdint>
#include <mutex>
#include <random>
#include <string>

#include "sim/config.h"

namespace sluice::sim {

class FaultInjector {
 public:
  struct Plan {
    int delay_ms = 0;
    int fail_status = 0;  // 0, or one of 500/502/503/504
    bool malformed = false;
  };

  FaultInjector(FaultConfig config, uint64_t seed);

  void Set(const FaultConfig& config);
  FaultConfig Get() const;

  // Every call consumes the same number of draws whatever the rates, so
  // changing one rate does not reshuffle the others.
  Plan Draw();
  bool DropRateLimitHeaders();
  // A 200 body a client cannot parse: either a truncated document or the
  // HTML page a misbehaving proxy sends.
  std::string Corrupt(const std::string& body);

 private:
  double Unit();  // requires mu_

  mutable std::mutex mu_;
  FaultConfig config_;   // guarded by mu_
  std::mt19937_64 rng_;  // guarded by mu_
};

}  // namespace sluice::sim

#endif  // SLUICE_SIM_FAULTS_H_
