#include "client/cli.h"

#include <algorithm>
#include <iostream>

#include "absl/status/status.h"
#include "client/progress.h"
#include "sluice/v1/throttle.grpc.pb.h"

namespace sluice::cli {

void Prepare(const Context& ctx, grpc::ClientContext* call, int timeout_ms) {
  std::chrono::milliseconds timeout(timeout_ms);
  if (ctx.wait.count() > 0) timeout = std::max<std::chrono::milliseconds>(timeout, ctx.wait);
  PrepareContext(call, ctx.options, timeout);
  // --wait_s=0: fail at once when no coordinator answers (PrepareContext's
  // default is to wait for a leader until the deadline).
  call->set_wait_for_ready(ctx.wait.count() > 0);
}

bool Transient(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE ||
         status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

int RpcError(const std::string& what, const grpc::Status& status) {
  std::string code = absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()));
  std::cerr << "sluicectl: " << what << ": " << code << ": " << status.error_message();
  if (Transient(status)) {
    std::cerr << " (is the coordinator running at the address given by --coordinator?)";
  }
  std::cerr << std::endl;
  return 1;
}

int UsageError(const std::string& message) {
  std::cerr << "sluicectl: " << message << std::endl;
  return 2;
}

void PrintJson(const nlohmann::json& j) { std::cout << j.dump(2) << std::endl; }

std::string WaitingFor(Context& ctx, const std::string& prefix) {
  auto stub = v1::ThrottlerService::NewStub(ctx.channel);
  v1::ListBudgetsRequest req;
  req.set_top(1);
  v1::ListBudgetsResponse resp;
  grpc::ClientContext call;
  Prepare(ctx, &call, 5000);
  if (!stub->ListBudgets(&call, req, &resp).ok()) return "";
  return WaitReason(resp, prefix);
}

}  // namespace sluice::cli
