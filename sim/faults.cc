#include "sim/faults.h"

namespace sluice::sim {

FaultInjector::FaultInjector(FaultConfig config, uint64_t seed)
    : config_(config), rng_(seed ^ 0xFA017FA017ULL) {}

void FaultInjector::Set(const FaultConfig& config) {
  std::lock_guard<std::mutex> lock(mu_);
  config_ = config;
}

FaultConfig FaultInjector::Get() const {
  std::lock_guard<std::mutex> lock(mu_);
  return config_;
}

double FaultInjector::Unit() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }

FaultInjector::Plan FaultInjector::Draw() {
  static constexpr int kStatuses[] = {500, 502, 503, 504};
  std::lock_guard<std::mutex> lock(mu_);
  double slow = Unit(), fail = Unit(), which = Unit(), malformed = Unit();
  Plan p;
  // `<` keeps a rate of 0 from ever firing and a rate of 1 always firing.
  if (slow < config_.fault_slow_rate) p.delay_ms = config_.fault_slow_ms;
  if (fail < config_.fault_5xx_rate) p.fail_status = kStatuses[static_cast<int>(which * 4) & 3];
  if (malformed < config_.fault_malformed_rate) p.malformed = true;
  return p;
}

bool FaultInjector::DropRateLimitHeaders() {
  std::lock_guard<std::mutex> lock(mu_);
  return Unit() < config_.fault_429_no_headers_rate;
}

std::string FaultInjector::Corrupt(const std::string& body) {
  bool html;
  {
    std::lock_guard<std::mutex> lock(mu_);
    html = (rng_() & 1) != 0;
  }
  if (html) {
    return "<html><head><title>502 Bad Gateway</title></head>"
           "<body><center><h1>502 Bad Gateway</h1></center></body></html>";
  }
  // Every body we serve is an object or array, so any strict non-empty
  // prefix leaves it unclosed.
  if (body.size() < 2) return "{";
  return body.substr(0, body.size() / 2);
}

}  // namespace sluice::sim
