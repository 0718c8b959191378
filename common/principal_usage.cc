#include "common/principal_usage.h"

#include <algorithm>

#include "common/credentials.h"

namespace sluice {

PrincipalUsage::PrincipalUsage(const std::vector<std::string>& names) {
  for (const std::string& name : names) counters_.emplace(name, std::make_unique<Counters>());
}

void PrincipalUsage::Count(const Principal* principal, UsageEvent event, int64_t n) {
  if (principal == nullptr || n <= 0) return;
  auto it = counters_.find(principal->name);
  if (it == counters_.end()) return;
  it->second->values[static_cast<int>(event)].fetch_add(n, std::memory_order_relaxed);
}

absl::Status Asker::Admit(absl::string_view upstream, absl::string_view route) const {
  if (principal_ == nullptr) return absl::OkStatus();
  absl::Status s = principal_->CheckRoute(upstream, route);
  if (!s.ok()) Count(UsageEvent::kDenied);
  return s;
}

std::vector<PrincipalCounts> PrincipalUsage::Snapshot() const {
  std::vector<PrincipalCounts> out;
  for (const auto& entry : counters_) {
    PrincipalCounts p;
    p.name = entry.first;
    // Not a structured binding: C++17 lambdas cannot capture those (clang
    // refuses; the fuzz build uses clang).
    const auto& c = entry.second;
    auto get = [&](UsageEvent e) {
      return c->values[static_cast<int>(e)].load(std::memory_order_relaxed);
    };
    p.next_permitted = get(UsageEvent::kNextPermitted);
    p.acquire_granted = get(UsageEvent::kAcquireGranted);
    p.acquire_refused = get(UsageEvent::kAcquireRefused);
    p.reports = get(UsageEvent::kReport);
    p.denied = get(UsageEvent::kDenied);
    if (p.next_permitted + p.acquire_granted + p.acquire_refused + p.reports + p.denied == 0) {
      continue;
    }
    out.push_back(std::move(p));
  }
  std::sort(out.begin(), out.end(),
            [](const PrincipalCounts& a, const PrincipalCounts& b) { return a.name < b.name; });
  return out;
}

}  // namespace sluice
