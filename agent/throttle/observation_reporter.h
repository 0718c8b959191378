// ObservationReporter carries what the upstream said back to the
// coordinator's throttler: it queues observations (status and rate-limit
// headers of each call) and a thread of its own sends them in ReportBatch
// calls, every report_interval or as soon as report_batch are queued,
// together with the token returns (unspent counts of dropped leases) it
// takes from a TokenReturnSource.
//
//   * Each observation carries sent_age/response_age measured when its batch
//     is sent (a resent batch gets fresh ages), so the throttler can place
//     the call on its own clock whatever the hosts' clocks say.
//   * A batch the throttler rejects as invalid is dropped: resending it
//     would fail forever (its token returns go out again alone). A transport
//     error (unavailable, deadline, overload) keeps the batch, ahead of newer
//     observations, and its returns for the next attempt, with backoff.
//   * Beyond max_queued_observations the oldest observations are dropped (a
//     coordinator unreachable for long).
//   * Stop() makes a final flush: one attempt per batch, no waiting on a
//     dead coordinator.
//
// Ownership: CoordinatorRateGate owns its reporter and is its
// TokenReturnSource; the stub and the source are borrowed and must outlive
// the reporter (or at least its Stop()).
//
// Thread-safety: Add, stats and Stop may be called from any thread. The
// TokenReturnSource is called from the reporter's thread (or from Stop()'s
// caller when the reporter was never started), never with the reporter's
// lock held.
#ifndef SLUICE_AGENT_THROTTLE_OBSERVATION_REPORTER_H_
#define SLUICE_AGENT_THROTTLE_OBSERVATION_REPORTER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/throttle/token_ledger.h"
#include "common/grpc_security.h"
#include "sluice/v1/throttle.grpc.pb.h"

namespace sluice::agent {

// A call as the reporter sends it: its ages are filled in at send time
// (sent_at and received_at are monotonic; the epoch means unknown).
struct ReportedCall {
  sluice::v1::Observation proto;
  std::chrono::steady_clock::time_point sent_at;
  std::chrono::steady_clock::time_point received_at;
};

// What a batch says of a takeover (ReportBatchRequest.settled_*).
struct SettlementReport {
  uint64_t settled_before = 0;  // 0: nothing to say
  std::string instance;         // LeaseTokensRequest.agent_instance
  std::vector<ReportedCall> errors;
  std::chrono::steady_clock::duration errors_cover{};
  bool errors_since_start = false;
};

// Where the token returns sent with each batch come from.
class TokenReturnSource {
 public:
  virtual ~TokenReturnSource() = default;
  // Every return owed now; the reporter holds them until they are delivered
  // or handed back with RestoreReturns. Called once per send attempt, so an
  // owner may also do periodic housekeeping here.
  virtual std::vector<TokenReturnEntry> TakeReturns() = 0;
  // Takes back returns a failed batch did not deliver.
  virtual void RestoreReturns(const std::vector<TokenReturnEntry>& returns) = 0;
  // Whether any return is owed (for the final flush).
  virtual bool HasReturns() = 0;
  // The takeover settlement to send when it is newer than `delivered` (the
  // last settled_before delivered); settled_before 0 otherwise. Asked before
  // the batch's observations are taken, so every call it covers is in this
  // batch or an earlier one; asked again until delivered.
  virtual SettlementReport TakeSettlement(uint64_t delivered) {
    (void)delivered;
    return {};
  }
};

struct ObservationReporterOptions {
  std::string agent_id;
  // Auth token and TLS for calls (target is unused: the stub is given).
  ClientOptions rpc;
  // Deadline of each call.
  std::chrono::milliseconds rpc_timeout{5000};
  // A batch is sent at least this often while anything is pending.
  std::chrono::milliseconds report_interval{50};
  // A batch is sent at once when this many observations are queued.
  size_t report_batch = 64;
  // Oldest observations are dropped beyond this (coordinator unreachable).
  size_t max_queued_observations = 4096;
};

class ObservationReporter {
 public:
  struct Stats {
    int64_t observations_sent = 0;
    int64_t observations_dropped = 0;   // queue overflow
    int64_t observations_rejected = 0;  // batches refused as invalid, dropped
    int64_t report_errors = 0;          // failed sends, kept for later
    int64_t tokens_returned = 0;        // unspent tokens delivered
  };

  // `stub` and `returns` are not owned.
  ObservationReporter(ObservationReporterOptions options,
                      sluice::v1::ThrottlerService::StubInterface* stub,
                      TokenReturnSource* returns);
  ~ObservationReporter();  // Stop()
  ObservationReporter(const ObservationReporter&) = delete;
  ObservationReporter& operator=(const ObservationReporter&) = delete;

  // Starts the sending thread. At most once, and not after Stop().
  void Start();

  // Queues one observation; its ages are filled in when it is sent (sent_at
  // and received_at are monotonic; the epoch means unknown). Never blocks on
  // the network.
  void Add(sluice::v1::Observation observation, std::chrono::steady_clock::time_point sent_at,
           std::chrono::steady_clock::time_point received_at);

  // Final flush (queued observations and owed returns, one attempt per
  // batch), then stops the thread; without Start() the flush runs here.
  // Idempotent; Add after Stop queues nothing that will be sent.
  void Stop();

  Stats stats() const;

 private:
  using Queued = ReportedCall;

  void Loop();
  // One ReportBatch with up to `max` observations plus all owed returns.
  // False if the RPC failed and everything was put back.
  bool SendBatch(size_t max);
  // Observations queued or returns owed.
  bool HasPending();
  // Drops the oldest observations beyond the cap; requires mu_.
  void TrimLocked();

  const ObservationReporterOptions options_;
  sluice::v1::ThrottlerService::StubInterface* const stub_;
  TokenReturnSource* const returns_;

  mutable std::mutex mu_;  // guards everything below
  std::condition_variable cv_;
  std::deque<Queued> queue_;
  bool started_ = false;
  bool stopping_ = false;
  bool stopped_ = false;
  uint64_t settled_sent_ = 0;  // the last settled_before_incarnation delivered
  Stats stats_;
  std::thread thread_;
};

}  // namespace sluice::agent

#endif  // SLUICE_AGENT_THROTTLE_OBSERVATION_REPORTER_H_
