#include "server/ops/ops_sampler.h"

#include <algorithm>

namespace sluice {

OpsSampler::OpsSampler(std::function<OpsSnapshot()> collect, OpsHistory* history,
                       std::chrono::milliseconds interval)
    : collect_(std::move(collect)),
      history_(history),
      interval_(std::max(interval, std::chrono::milliseconds(100))) {}

OpsSampler::~OpsSampler() { Stop(); }

void OpsSampler::Start() {
  if (thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] { Loop(); });
}

void OpsSampler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void OpsSampler::Loop() {
  // Samples on a fixed grid (start + n x interval), so the points stay evenly
  // spaced however long a snapshot takes.
  auto next = std::chrono::steady_clock::now();
  while (true) {
    history_->Record(collect_());
    next += interval_;
    const auto now = std::chrono::steady_clock::now();
    if (next < now) next = now;  // fell behind: skip the missed points
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_until(lock, next, [this] { return stop_; })) return;
  }
}

}  // namespace sluice
