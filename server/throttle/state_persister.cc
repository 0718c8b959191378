#include "server/throttle/state_persister.h"

#include <glog/logging.h>

#include <algorithm>
#include <chrono>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/rfc3339.h"

namespace sluice::throttle {
namespace {

// Budgets per TakeDelta: the most the decision lock is held for in a write.
constexpr size_t kDeltaChunk = 128;
// Chunks per write: while decisions keep changing budgets as fast as they are
// taken, a write still ends; what is left goes in the next one.
constexpr int kMaxChunksPerWrite = 1024;

}  // namespace

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
  // From the first row written on, grants stay within the rows' allowances.
  throttler_->EnableWriteAhead(options_.interval);
  absl::StatusOr<std::map<std::string, std::string>> rows = store_->List(kThrottleRowsPrefix);
  if (!rows.ok()) return rows.status();
  ThrottleSnapshot snapshot;
  auto meta = rows->find(kThrottleMetaKey);
  if (meta != rows->end()) {
    absl::StatusOr<ThrottleMeta> m = DecodeThrottleMeta(meta->second);
    if (!m.ok()) {
      LOG(ERROR) << "throttle: stored state unreadable, starting from conservative defaults: "
                 << m.status();
      return m.status();
    }
    snapshot.version = 2;
    snapshot.written_at = m->written_at;
    snapshot.clean_shutdown = m->clean_shutdown;
    snapshot.incarnation = m->incarnation;
    snapshot.error_limit_holders = m->error_limit_holders;
    auto map = rows->find(kThrottleMapKey);
    if (map != rows->end()) {
      absl::StatusOr<RouteMapState> decoded = DecodeRouteMapState(map->second);
      if (!decoded.ok()) {
        LOG(ERROR) << "throttle: stored route map unreadable: " << decoded.status();
        return decoded.status();
      }
      snapshot.map = std::move(*decoded);
    }
    for (const auto& [key, value] : *rows) {
      if (!absl::StartsWith(key, kThrottleBudgetKeyPrefix)) continue;
      absl::StatusOr<BudgetState> budget = DecodeBudgetState(value);
      if (!budget.ok()) {
        // One unreadable row costs that budget's memory, not everything:
        // a budget made anew probes before it spends.
        LOG(ERROR) << "throttle: skipping unreadable row " << key << ": " << budget.status();
        continue;
      }
      snapshot.budgets.push_back(std::move(*budget));
    }
  } else {
    absl::StatusOr<std::string> legacy = store_->Get(kThrottleStateKey);
    if (absl::IsNotFound(legacy.status())) {
      LOG(INFO) << "throttle: no stored state; starting from defaults";
      return absl::OkStatus();
    }
    if (!legacy.ok()) return legacy.status();
    absl::StatusOr<ThrottleSnapshot> decoded = DecodeThrottleState(*legacy);
    if (!decoded.ok()) {
      LOG(ERROR) << "throttle: stored state unreadable, starting from conservative defaults: "
                 << decoded.status();
      return decoded.status();
    }
    snapshot = std::move(*decoded);
    std::lock_guard<std::mutex> wl(write_mu_);
    legacy_to_delete_ = true;
  }
  absl::Status restored = throttler_->Restore(snapshot);
  if (!restored.ok()) return restored;
  // From now on a crash must read as one: say "not clean" before serving.
  std::lock_guard<std::mutex> wl(write_mu_);
  return WriteLocked(false);
}

void StatePersister::Start() {
  throttler_->EnableWriteAhead(options_.interval);
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
      // The count is read before the delta: changes racing with it make the
      // next round write again rather than being lost.
      if (!ever_written_ || !pending_.empty() || changes_left_ ||
          throttler_->change_count() != written_change_) {
        WriteLocked(false, /*bounded=*/true).IgnoreError();
      }
    }
    lock.lock();
  }
}

absl::Status StatePersister::WriteLocked(bool clean_shutdown, bool bounded) {
  const auto started = std::chrono::steady_clock::now();
  const uint64_t change = throttler_->change_count();
  // In chunks: each TakeDelta holds the throttler's decision lock for
  // kDeltaChunk budgets at most (a few microseconds each), so a write of
  // 150,000 changed budgets never stalls a decision for long (measured with
  // bench/budget_scale_bench: held at most 0.65 ms in chunks of 128, where
  // one TakeDelta of 100,000 held it 136-212 ms).
  // Before the budget rows: a lease closed before this is in them, and the
  // meta row names the holders of every lease open after it.
  Throttler::ErrorLimitHolders holders = throttler_->TakeErrorLimitHolders();
  ThrottleDelta delta;
  Duration longest_hold{};
  int chunks = 0;
  do {
    const auto take_started = std::chrono::steady_clock::now();
    delta = throttler_->TakeDelta(kDeltaChunk);
    longest_hold = std::max<Duration>(
        longest_hold,
        std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - take_started));
    for (const BudgetState& b : delta.budgets) {
      pending_[absl::StrCat(kThrottleBudgetKeyPrefix, b.name)] = EncodeBudgetState(b);
      if (b.allowance) {
        pending_allowances_[b.name] =
            AllowanceCommit{b.name, b.serial, b.allowance_mark, *b.allowance};
      } else {
        pending_allowances_.erase(b.name);
      }
    }
    for (const std::string& name : delta.removed) {
      pending_[absl::StrCat(kThrottleBudgetKeyPrefix, name)] = std::nullopt;
      pending_allowances_.erase(name);
    }
  } while (delta.more && !(bounded && ++chunks >= kMaxChunksPerWrite));
  changes_left_ = delta.more;
  pending_[kThrottleMapKey] = EncodeRouteMapState(delta.map);
  // Every write says whether it is the last one of an orderly shutdown.
  ThrottleMeta meta;
  meta.written_at = delta.written_at;
  meta.clean_shutdown = clean_shutdown;
  meta.incarnation = holders.incarnation;
  meta.error_limit_holders = holders.holders;
  pending_[kThrottleMetaKey] = EncodeThrottleMeta(meta);
  if (legacy_to_delete_) pending_[kThrottleStateKey] = std::nullopt;

  std::vector<StateStore::Change> changes;
  changes.reserve(pending_.size());
  int64_t bytes = 0;
  for (const auto& [key, value] : pending_) {
    changes.emplace_back(key, value);
    bytes += static_cast<int64_t>(key.size() + (value ? value->size() : 0));
  }
  absl::Status s = store_->Apply(changes);
  if (s.ok()) {
    if (failures_.exchange(0) > 0) LOG(INFO) << "throttle: state writes succeed again";
    last_write_ =
        WriteStats{static_cast<int64_t>(changes.size()), bytes,
                   std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - started),
                   longest_hold};
    pending_.clear();
    legacy_to_delete_ = false;
    // Only now may the budgets grant on what these rows allow.
    std::vector<AllowanceCommit> commits;
    commits.reserve(pending_allowances_.size());
    for (auto& [name, c] : pending_allowances_) commits.push_back(std::move(c));
    pending_allowances_.clear();
    throttler_->CommitAllowances(commits);
    throttler_->CommitErrorLimitHolders(holders.holders);
    written_change_ = change;
    ever_written_ = true;
    writes_++;
  } else if (failures_.fetch_add(1) == 0) {
    // One line per streak of failures: the store being down is one incident.
    LOG(WARNING) << "throttle: cannot write state (will retry with the next changes): " << s;
  }
  return s;
}

absl::Status StatePersister::Flush(bool clean_shutdown) {
  std::lock_guard<std::mutex> wl(write_mu_);
  return WriteLocked(clean_shutdown);
}

StatePersister::WriteStats StatePersister::last_write() const {
  std::lock_guard<std::mutex> wl(write_mu_);
  return last_write_;
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
