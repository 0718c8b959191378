// OpsSampler feeds an OpsHistory: every interval it takes the ops snapshot
// (the collector /metrics renders) and records it. One thread of its own; a
// slow snapshot (the database is away) delays the next sample, never piles
// them up.
//
// Ownership: borrows the history; owns the collector and its thread.
// Thread-safety: Start and Stop from one thread.
#ifndef SLUICE_SERVER_OPS_OPS_SAMPLER_H_
#define SLUICE_SERVER_OPS_OPS_SAMPLER_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "server/ops/ops_history.h"
#include "server/ops/ops_snapshot.h"

namespace sluice {

class OpsSampler {
 public:
  OpsSampler(std::function<OpsSnapshot()> collect, OpsHistory* history,
             std::chrono::milliseconds interval);
  ~OpsSampler();
  OpsSampler(const OpsSampler&) = delete;
  OpsSampler& operator=(const OpsSampler&) = delete;

  // Takes the first sample at once, then one per interval.
  void Start();
  void Stop();

 private:
  void Loop();

  const std::function<OpsSnapshot()> collect_;
  OpsHistory* const history_;
  const std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_OPS_OPS_SAMPLER_H_
