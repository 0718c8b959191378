#include "agent/throttle/observation_reporter.h"

#include <glog/logging.h>

#include <algorithm>

#include "agent/core/backoff.h"
#include "common/time_util.h"

namespace sluice::agent {
namespace {

constexpr size_t kMaxObservationsPerBatch = 512;

// Worth sending again later: the throttler was unreachable or busy.
bool IsTransient(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED ||
         code == grpc::StatusCode::RESOURCE_EXHAUSTED || code == grpc::StatusCode::ABORTED;
}

}  // namespace

ObservationReporter::ObservationReporter(ObservationReporterOptions options,
                                         sluice::v1::ThrottlerService::StubInterface* stub,
                                         TokenReturnSource* returns)
    : options_(std::move(options)), stub_(stub), returns_(returns) {
  CHECK(stub_ != nullptr);
  CHECK(returns_ != nullptr);
}

ObservationReporter::~ObservationReporter() { Stop(); }

void ObservationReporter::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  CHECK(!started_) << "Start() called twice";
  CHECK(!stopping_) << "Start() after Stop()";
  started_ = true;
  thread_ = std::thread([this] { Loop(); });
}

void ObservationReporter::Add(sluice::v1::Observation observation,
                              std::chrono::steady_clock::time_point sent_at,
                              std::chrono::steady_clock::time_point received_at) {
  std::lock_guard<std::mutex> lock(mu_);
  queue_.push_back(Queued{std::move(observation), sent_at, received_at});
  TrimLocked();
  if (queue_.size() >= options_.report_batch) cv_.notify_all();
}

void ObservationReporter::TrimLocked() {
  while (queue_.size() > options_.max_queued_observations) {
    queue_.pop_front();
    ++stats_.observations_dropped;
  }
}

void ObservationReporter::Stop() {
  bool started;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    started = started_;
  }
  cv_.notify_all();
  if (started) {
    thread_.join();  // the loop makes the final flush
  } else {
    while (HasPending() && SendBatch(kMaxObservationsPerBatch)) {
    }
  }
}

ObservationReporter::Stats ObservationReporter::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void ObservationReporter::Loop() {
  Backoff backoff(std::chrono::milliseconds(100), std::chrono::seconds(5));
  while (true) {
    bool stop;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, options_.report_interval,
                   [this] { return stopping_ || queue_.size() >= options_.report_batch; });
      stop = stopping_;
    }
    if (stop) {
      // Final flush: one attempt per batch, no waiting on a dead coordinator.
      while (HasPending() && SendBatch(kMaxObservationsPerBatch)) {
      }
      return;
    }
    if (SendBatch(kMaxObservationsPerBatch)) {
      backoff.Reset();
      continue;
    }
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, backoff.Next(), [this] { return stopping_; });
  }
}

bool ObservationReporter::HasPending() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!queue_.empty()) return true;
  }
  return returns_->HasReturns();
}

bool ObservationReporter::SendBatch(size_t max) {
  uint64_t delivered;
  {
    std::lock_guard<std::mutex> lock(mu_);
    delivered = settled_sent_;
  }
  // Before the observations: the calls it covers are queued already.
  SettlementReport settlement = returns_->TakeSettlement(delivered);
  const bool new_settlement = settlement.settled_before > delivered;
  std::vector<Queued> batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    size_t n = std::min(max, queue_.size());
    batch.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
  }
  std::vector<TokenReturnEntry> returns = returns_->TakeReturns();
  if (batch.empty() && returns.empty() && !new_settlement) return true;

  sluice::v1::ReportBatchRequest request;
  request.set_agent_id(options_.agent_id);
  const auto now = std::chrono::steady_clock::now();
  const std::chrono::steady_clock::time_point unset{};
  auto add = [&](const ReportedCall& q, sluice::v1::Observation* o) {
    *o = q.proto;
    // Ages as of this send; a resent batch gets fresh ones.
    if (q.sent_at != unset) *o->mutable_sent_age() = ToProtoDuration(now - q.sent_at);
    if (q.received_at != unset) *o->mutable_response_age() = ToProtoDuration(now - q.received_at);
  };
  for (const auto& q : batch) add(q, request.add_observations());
  if (new_settlement) {
    request.set_settled_before_incarnation(settlement.settled_before);
    for (const ReportedCall& q : settlement.errors) add(q, request.add_settled_errors());
    *request.mutable_settled_errors_cover() = ToProtoDuration(settlement.errors_cover);
    request.set_settled_errors_since_start(settlement.errors_since_start);
    request.set_agent_instance(settlement.instance);
  }
  int64_t returned = 0;
  for (const auto& r : returns) {
    auto* tr = request.add_returns();
    tr->set_lease_id(r.lease_id);
    tr->set_unspent(r.unspent);
    returned += r.unspent;
  }
  sluice::v1::ReportBatchResponse response;
  grpc::ClientContext context;
  PrepareContext(&context, options_.rpc, options_.rpc_timeout);
  grpc::Status status = stub_->ReportBatch(&context, request, &response);
  if (!status.ok() && !IsTransient(status.error_code())) {
    // The throttler refused the batch itself (e.g. INVALID_ARGUMENT): the
    // same batch would be refused forever. Returns go out again alone.
    if (!batch.empty()) {
      returns_->RestoreReturns(returns);
      std::lock_guard<std::mutex> lock(mu_);
      stats_.observations_rejected += static_cast<int64_t>(batch.size());
    }
    LOG(ERROR) << "ReportBatch rejected (" << status.error_code() << " " << status.error_message()
               << "); dropped " << batch.size() << " observation(s)"
               << (batch.empty() ? " and the token returns" : "");
    return true;
  }
  if (!status.ok()) {
    returns_->RestoreReturns(returns);
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto it = batch.rbegin(); it != batch.rend(); ++it) queue_.push_front(std::move(*it));
      TrimLocked();
      ++stats_.report_errors;
    }
    LOG_EVERY_N(WARNING, 20) << "ReportBatch failed: " << status.error_code() << " "
                             << status.error_message() << " (" << google::COUNTER << " times)";
    return false;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.observations_sent += static_cast<int64_t>(batch.size());
    stats_.tokens_returned += returned;
    if (new_settlement) settled_sent_ = std::max(settled_sent_, settlement.settled_before);
  }
  return true;
}

}  // namespace sluice::agent
