// Shared plumbing of sluicectl's commands: the connection to the
// coordinator, output in text or JSON, and uniform errors.
#ifndef SLUICE_CLIENT_CLI_H_
#define SLUICE_CLIENT_CLI_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/grpc_security.h"
#include "sluice/v1/admin.grpc.pb.h"

namespace sluice::cli {

struct Context {
  ClientOptions options;
  // How long a call waits for an unreachable coordinator (--wait_s); 0 =
  // fail at once.
  std::chrono::seconds wait{30};
  bool json = false;
  std::vector<std::string> args;  // positional arguments after the command
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::AdminService::Stub> admin;
};

// Prepares a ClientContext with auth metadata and a deadline. With ctx.wait,
// the call waits for the coordinator to be reachable (gRPC wait-for-ready:
// connection refused or a restart is waited out, with gRPC's reconnect
// backoff) within max(timeout, wait).
void Prepare(const Context& ctx, grpc::ClientContext* call, int timeout_ms = 30000);

// Whether a polling command should keep polling after this error: the
// coordinator is unreachable or did not answer in time (it may be
// restarting); the command's own timeout still bounds the wait.
bool Transient(const grpc::Status& status);

// Prints "sluicectl: <what>: <CODE>: <message>" to stderr; returns exit code 1.
int RpcError(const std::string& what, const grpc::Status& status);
// Prints "sluicectl: <message>" to stderr; returns exit code 2 (usage).
int UsageError(const std::string& message);

void PrintJson(const nlohmann::json& j);

// What calls to an upstream wait for now (budgets named `prefix`...:
// "budget esi/group/character full until 17:10:42", client/progress.h's
// WaitReason); empty if nothing waits or the listing failed (progress goes
// on without it). One listing walks every budget: ask every few seconds,
// not every poll.
std::string WaitingFor(Context& ctx, const std::string& prefix);

using Command = int (*)(Context& ctx);
int CmdMigrate(Context& ctx);
int CmdEnqueue(Context& ctx);
int CmdStatus(Context& ctx);
int CmdEntities(Context& ctx);
int CmdThrottle(Context& ctx);
int CmdNext(Context& ctx);
int CmdDaily(Context& ctx);
int CmdJobs(Context& ctx);
int CmdCheckpoints(Context& ctx);
int CmdIngest(Context& ctx);
int CmdAlerts(Context& ctx);
int CmdTokens(Context& ctx);
int CmdCredential(Context& ctx);
int CmdCompletion(Context& ctx);

}  // namespace sluice::cli

#endif  // SLUICE_CLIENT_CLI_H_
