#include "server/throttle/state_persister.h"

#include <glog/logging.h>

namespace sluice::throttle {

StatePersister::StatePersister(Throttler* throttler, StateStore* store,
                               StatePersisterOptions options)
    : throttler_(throttler), store_(store), options_(std::move(options)) {}

StatePersister::~StatePersister() {
  bool running;
  {
    std::lock_guard<std::mutex> lock(mu_);
    running = thread_.joinable() && !stopped_;
  }
  if (running) Stop().IgnoreError();
}

absl::Status StatePersister::Load() {
  absl::StatusOr<std::string> stored = store_->Get(options_.key);
  if (absl::IsNotFound(stored.status())) {
    LOG(INFO) << "throttle: no stored state under " << options_.key << "; starting from defaults";
    return absl::OkStatus();
  }
  if (!stored.ok()) return stored.status();
  absl::StatusOr<ThrottleSnapshot> snapshot = DecodeThrottleState(*stored);
  if (!snapshot.ok()) {
    LOG(ERROR) << "throttle: stored state unreadable, starting from conservative defaults: "
               << snapshot.status();
    return snapshot.status();
  }
  return throttler_->Restore(*snapshot);
}

void StatePersister::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Loop(); });
}

void StatePersister::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, options_.interval, [this] { return stop_; });
    if (stop_) break;
    lock.unlock();
    {
      std::lock_guard<std::mutex> wl(write_mu_);
      // The count is read before the snapshot: changes racing with it make
      // the next round write again rather than being lost.
      if (!ever_written_ || throttler_->change_count() != written_change_) {
        Write(false).IgnoreError();
      }
    }
    lock.lock();
  }
}

absl::Status StatePersister::Write(bool clean_shutdown) {
  const uint64_t change = throttler_->change_count();
  const std::string json = EncodeThrottleState(throttler_->Snapshot(clean_shutdown));
  absl::Status s = store_->Put(options_.key, json);
  if (s.ok()) {
    if (failures_.exchange(0) > 0) LOG(INFO) << "throttle: state writes succeed again";
    written_change_ = change;
    ever_written_ = true;
    writes_++;
  } else if (failures_.fetch_add(1) == 0) {
    // One line per streak of failures: the store being down is one incident.
    LOG(WARNING) << "throttle: cannot write state (will retry): " << s;
  }
  return s;
}

absl::Status StatePersister::Flush(bool clean_shutdown) {
  std::lock_guard<std::mutex> wl(write_mu_);
  return Write(clean_shutdown);
}

absl::Status StatePersister::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return absl::OkStatus();
    stopped_ = true;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  absl::Status s = Flush(/*clean_shutdown=*/true);
  if (!s.ok()) LOG(ERROR) << "throttle: final state write failed: " << s;
  return s;
}

}  // namespace sluice::throttle
