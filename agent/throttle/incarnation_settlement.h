// IncarnationSettlement tells a coordinator that took over when this agent
// has no call left of the throttler it replaced (ReportBatchRequest.
// settled_before_incarnation; README, throttle "Persistence").
//
// Every lease names the incarnation of the throttler that granted it (each
// restore of the throttler's state is newer than the last). The agent counts
// the calls it started per incarnation until each is answered (or given
// back unused) and its observation queued for the report; once no call of
// an incarnation older than the newest seen is out, SettledBefore() is that
// newest one: every call started under an older lease is answered and in a
// batch sent no later than one that carries the value.
// Leases of an incarnation older than the newest seen must not be spent
// (Seen() says when to drop them), or the value would stop being true.
//
// The owner also keeps the calls answered within error_history() whose
// status counts against an error limit (4xx, 5xx, transport failure), so the
// confirmation can list them (settled_errors): with every holder's list the
// coordinator knows the errors nobody saved instead of assuming the worst.
// The list covers ErrorCover(): min(error_history, the process's age), the
// whole life of the process while it is younger (ErrorsSinceStart).
//
// It speaks for this process only: the coordinator names each process of an
// agent (LeaseTokensRequest.agent_instance) as a holder of its own.
//
// Pure logic with injected monotonic times; no I/O, no threads.
// Thread-safety: none; the owner serialises access.
#ifndef SLUICE_AGENT_THROTTLE_INCARNATION_SETTLEMENT_H_
#define SLUICE_AGENT_THROTTLE_INCARNATION_SETTLEMENT_H_

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>

namespace sluice::agent {

class IncarnationSettlement {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;

  using SteadyDuration = std::chrono::steady_clock::duration;

  explicit IncarnationSettlement(SteadyTime started,
                                 SteadyDuration error_history = std::chrono::seconds(180))
      : started_(started), error_history_(error_history) {}

  // A lease (or refusal) came from `incarnation` (0: the coordinator does
  // not say). True when it is newer than any seen before: leases of older
  // incarnations must be dropped now.
  bool Seen(uint64_t incarnation) {
    if (incarnation <= newest_) return false;
    const bool had = newest_ > 0;
    newest_ = incarnation;
    return had;
  }
  uint64_t newest() const { return newest_; }
  // Whether a lease of `incarnation` may be spent (not older than the newest).
  bool Spendable(uint64_t incarnation) const { return incarnation >= newest_; }

  // A call is about to start under a lease of `incarnation`.
  void Started(uint64_t incarnation) { ++out_[incarnation]; }
  // That call was answered and its observation queued, or it never started.
  void Finished(uint64_t incarnation) {
    auto it = out_.find(incarnation);
    if (it == out_.end()) return;
    if (--it->second <= 0) out_.erase(it);
  }

  // How far back the error list goes at `now`, and whether that is the
  // whole life of the process.
  SteadyDuration ErrorCover(SteadyTime now) const {
    return std::min<SteadyDuration>(error_history_, now - started_);
  }
  bool ErrorsSinceStart(SteadyTime now) const { return now - started_ < error_history_; }
  SteadyDuration error_history() const { return error_history_; }

  // The value for ReportBatchRequest.settled_before_incarnation at `now`:
  // the newest incarnation once no call of an older one is out, else 0.
  uint64_t SettledBefore() const {
    if (newest_ == 0) return 0;
    return out_.empty() || out_.begin()->first >= newest_ ? newest_ : 0;
  }

 private:
  const SteadyTime started_;
  const SteadyDuration error_history_;
  uint64_t newest_ = 0;
  std::map<uint64_t, int64_t> out_;  // incarnation -> calls out
};

}  // namespace sluice::agent

#endif  // SLUICE_AGENT_THROTTLE_INCARNATION_SETTLEMENT_H_
