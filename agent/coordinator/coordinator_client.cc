#include "agent/coordinator/coordinator_client.h"

#include <glog/logging.h>

#include "absl/strings/str_cat.h"
#include "agent/core/backoff.h"
#include "common/grpc_status.h"
#include "common/time_util.h"

namespace sluice::agent {

CoordinatorClient::CoordinatorClient(CoordinatorClientOptions options,
                                     std::unique_ptr<sluice::v1::AgentService::StubInterface> stub)
    : options_(std::move(options)), stub_(std::move(stub)) {
  CHECK(stub_ != nullptr);
}

bool CoordinatorClient::IsRetryable(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kResourceExhausted:
      return true;
    default:
      return false;
  }
}

absl::StatusOr<sluice::v1::LeaseTasksResponse> CoordinatorClient::LeaseTasks(
    const sluice::v1::LeaseTasksRequest& request) {
  grpc::ClientContext context;
  // The call may legitimately block for `wait` (long poll) on top of the
  // usual round trip.
  auto wait =
      std::chrono::duration_cast<std::chrono::milliseconds>(FromProtoDuration(request.wait()));
  PrepareContext(&context, options_.rpc, options_.rpc_timeout + wait);
  sluice::v1::LeaseTasksResponse response;
  grpc::Status status = stub_->LeaseTasks(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

absl::StatusOr<sluice::v1::ExtendLeaseResponse> CoordinatorClient::ExtendLease(
    const sluice::v1::ExtendLeaseRequest& request) {
  grpc::ClientContext context;
  PrepareContext(&context, options_.rpc, options_.rpc_timeout);
  sluice::v1::ExtendLeaseResponse response;
  grpc::Status status = stub_->ExtendLease(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

absl::StatusOr<sluice::v1::CompleteTaskResponse> CoordinatorClient::CompleteTask(
    const sluice::v1::CompleteTaskRequest& request) {
  sluice::v1::CompleteTaskResponse response;
  absl::Status status = CallWithRetry("CompleteTask", [&](grpc::ClientContext* context) {
    return FromGrpcStatus(stub_->CompleteTask(context, request, &response));
  });
  if (!status.ok()) return status;
  return response;
}

std::vector<absl::StatusOr<sluice::v1::CompleteTaskResponse>> CoordinatorClient::CompleteTasks(
    const sluice::v1::CompleteTasksRequest& request) {
  const int n = request.completions_size();
  std::vector<absl::StatusOr<sluice::v1::CompleteTaskResponse>> results(
      n, absl::InternalError("not answered"));
  // Indices into `request` of the completions still to be answered.
  std::vector<int> pending(n);
  for (int i = 0; i < n; ++i) pending[i] = i;
  absl::Status status = CallWithRetry("CompleteTasks", [&](grpc::ClientContext* context) {
    // The first attempt sends the request as it is; a retry only what is
    // still pending, so a completion the coordinator already settled (done,
    // or refused for good) is never sent twice.
    sluice::v1::CompleteTasksRequest rest;
    const sluice::v1::CompleteTasksRequest* send = &request;
    if (static_cast<int>(pending.size()) != n) {
      for (int i : pending) *rest.add_completions() = request.completions(i);
      send = &rest;
    }
    sluice::v1::CompleteTasksResponse response;
    absl::Status call = FromGrpcStatus(stub_->CompleteTasks(context, *send, &response));
    if (!call.ok()) return call;
    if (response.results_size() != static_cast<int>(pending.size())) {
      return absl::InternalError(absl::StrCat("CompleteTasks answered ", response.results_size(),
                                              " results for ", pending.size(), " completions"));
    }
    std::vector<int> still;
    absl::Status transient;
    for (int j = 0; j < response.results_size(); ++j) {
      const sluice::v1::CompletionResult& r = response.results(j);
      absl::Status one(static_cast<absl::StatusCode>(r.code()), r.message());
      if (IsRetryable(one.code())) {
        still.push_back(pending[j]);
        transient = one;
        continue;
      }
      if (!one.ok()) {
        results[pending[j]] = one;
        continue;
      }
      sluice::v1::CompleteTaskResponse done;
      done.set_records_written(r.records_written());
      done.set_tasks_queued(r.tasks_queued());
      results[pending[j]] = done;
    }
    pending = std::move(still);
    return transient;  // OK once nothing is pending
  });
  for (int i : pending) results[i] = status;
  return results;
}

absl::StatusOr<sluice::v1::FailTaskResponse> CoordinatorClient::FailTask(
    const sluice::v1::FailTaskRequest& request) {
  sluice::v1::FailTaskResponse response;
  absl::Status status = CallWithRetry("FailTask", [&](grpc::ClientContext* context) {
    return FromGrpcStatus(stub_->FailTask(context, request, &response));
  });
  if (!status.ok()) return status;
  return response;
}

absl::Status CoordinatorClient::CallWithRetry(
    const char* what, const std::function<absl::Status(grpc::ClientContext*)>& call) {
  Backoff backoff(options_.retry_initial, options_.retry_max);
  const auto give_up_at = std::chrono::steady_clock::now() + options_.result_retry_window;
  for (int attempt = 1;; ++attempt) {
    grpc::ClientContext context;
    PrepareContext(&context, options_.rpc, options_.rpc_timeout);
    absl::Status status = call(&context);
    if (status.ok() || !IsRetryable(status.code())) return status;
    auto wait = backoff.Next();
    if (aborted_ || std::chrono::steady_clock::now() + wait >= give_up_at) {
      LOG(WARNING) << what << " gave up after " << attempt << " attempt(s): " << status;
      return status;
    }
    LOG_EVERY_N(WARNING, 10) << what << " attempt " << attempt << " failed (" << status
                             << "); retrying in " << wait.count() << " ms";
    if (!Sleep(wait)) return status;
  }
}

bool CoordinatorClient::Sleep(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, d, [this] { return aborted_.load(); });
}

void CoordinatorClient::AbortRetries() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    aborted_ = true;
  }
  cv_.notify_all();
}

}  // namespace sluice::agent
