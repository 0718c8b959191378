// sluicectl: inspect and drive a Sluice coordinator.
#include <gflags/gflags.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <string>

#include <glog/logging.h>
#include "client/cli.h"
#include "client/commands.h"

#include "common/env_flags.h"

DEFINE_string(coordinator, "127.0.0.1:50051", "coordinator address host:port");
SLUICE_DEFINE_SECRET(auth_token, "bearer token for the coordinator (an operator credential)");
DEFINE_string(tls_ca, "", "PEM CA file: use TLS to reach the coordinator");
DEFINE_bool(json, false, "machine-readable JSON output");
DEFINE_int32(wait_s, 30,
             "How long a call waits for an unreachable coordinator (refused connection, a "
             "restart) before it fails; polling commands (daily, jobs run --wait) keep polling "
             "through outages within their own timeout. 0 = fail at once");

namespace {

bool IsHelpFlag(const std::string& arg) { return arg == "-h" || arg == "--help" || arg == "-help"; }

// `-h`/`--help` anywhere, and `help [COMMAND]`, print sluicectl's own usage
// (gflags' --help lists every flag of every linked library). Returns the
// exit code, or -1 if this is not a request for help.
int Help(int argc, char** argv) {
  using namespace sluice::cli;
  std::string topic;
  if (argc >= 2 && std::string(argv[1]) == "help") {
    if (argc >= 3 && argv[2][0] != '-') topic = argv[2];
  } else {
    bool asked = false;
    for (int i = 1; i < argc; ++i) {
      if (IsHelpFlag(argv[i])) asked = true;
      // The command named, if any (a flag's value given after a space is
      // not one).
      if (topic.empty() && FindCommand(argv[i]) != nullptr) topic = argv[i];
    }
    if (!asked) return -1;
  }
  if (topic.empty()) {
    std::cout << GeneralUsage();
    return 0;
  }
  const CommandSpec* command = FindCommand(topic);
  if (command == nullptr) {
    std::cerr << "sluicectl: unknown command '" << topic << "'\n\n" << GeneralUsage();
    return 2;
  }
  std::cout << CommandUsage(*command);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sluice::cli;
  if (int code = Help(argc, argv); code >= 0) return code;
  sluice::InitProcess(&argc, &argv, "sluicectl COMMAND [ARGS] [--flags]; sluicectl help",
                      {{"coordinator", "SLUICE_COORDINATOR"},
                       {"auth_token", "SLUICE_AUTH_TOKEN"},
                       {"tls_ca", "SLUICE_TLS_CA"},
                       {"dsn", "SLUICE_DSN"}},
                      {"auth_token", "dsn"});
  FLAGS_minloglevel = 1;  // a CLI's stderr is for errors
  if (argc < 2) {
    std::cerr << GeneralUsage();
    return 2;
  }
  const CommandSpec* command = FindCommand(argv[1]);
  if (command == nullptr) {
    return UsageError(std::string("unknown command '") + argv[1] + "'\n\n" + GeneralUsage());
  }
  Context ctx;
  ctx.options.target = FLAGS_coordinator;
  ctx.options.auth_token = FLAGS_auth_token;
  ctx.options.tls_ca = FLAGS_tls_ca;
  ctx.json = FLAGS_json;
  ctx.wait = std::chrono::seconds(std::max(0, FLAGS_wait_s));
  for (int i = 2; i < argc; ++i) ctx.args.push_back(argv[i]);
  ctx.channel = sluice::MakeChannel(ctx.options);
  ctx.admin = sluice::v1::AdminService::NewStub(ctx.channel);
  return command->run(ctx);
}
