// sluicectl: inspect and drive a Sluice coordinator.
#include <gflags/gflags.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>

#include <glog/logging.h>
#include "client/cli.h"

#include "common/env_flags.h"

DEFINE_string(coordinator, "127.0.0.1:50051", "coordinator address host:port");
DEFINE_string(auth_token, "", "bearer token for the coordinator");
DEFINE_string(tls_ca, "", "PEM CA file: use TLS to reach the coordinator");
DEFINE_bool(json, false, "machine-readable JSON output");
DEFINE_int32(wait_s, 30,
             "How long a call waits for an unreachable coordinator (refused connection, a "
             "restart) before it fails; polling commands (daily, jobs run --wait) keep polling "
             "through outages within their own timeout. 0 = fail at once");

namespace {

constexpr char kUsage[] = R"(sluicectl COMMAND [ARGS] [--flags]

Commands:
  migrate                 apply schema migrations (--dsn=... directly, else via the coordinator)
  enqueue KIND [IDS...]   queue ids (--priority=user|manual|background);
                          KIND alliance_ids takes no ids
  status                  queue depth per kind, leases and the agents holding them
  entities                stored entities per kind
  throttle                the global throttler's budgets: learned limits, headroom, counters
  next UPSTREAM ROUTE     when may ROUTE next be called (e.g. next esi /characters/{id}/)
  daily [--characters]    run seed 001's daily ESI sequence and follow it to the end
  jobs                    scheduled jobs (next run, fail-closed skips) and recent runs (--limit=N)
  jobs run NAME [--wait]  run a job now (daily_esi, snapshots); print its run id
  checkpoints [PREFIX]    stream checkpoints: cursors, their age, polls, pages, rows
  ingest [STREAM]         poe_ingest_status: lag, request rate, rows, errors, 429s per stream
  alerts                  stream alerts firing now and recent events (--alerts_history=N)
  tokens add ID TOKEN     store a character token for killmail sync (--expires=RFC3339); tokens list

Global flags: --coordinator=HOST:PORT (SLUICE_COORDINATOR) --auth_token (SLUICE_AUTH_TOKEN)
              --tls_ca=FILE --json --wait_s=SECONDS (wait for an unreachable coordinator; 30))";

}  // namespace

int main(int argc, char** argv) {
  using namespace sluice::cli;
  sluice::InitProcess(&argc, &argv, kUsage,
                      {{"coordinator", "SLUICE_COORDINATOR"},
                       {"auth_token", "SLUICE_AUTH_TOKEN"},
                       {"tls_ca", "SLUICE_TLS_CA"}});
  FLAGS_minloglevel = 1;  // a CLI's stderr is for errors
  if (argc < 2) {
    std::cerr << kUsage << std::endl;
    return 2;
  }
  static const std::map<std::string, Command> kCommands = {
      {"migrate", CmdMigrate},   {"enqueue", CmdEnqueue},   {"status", CmdStatus},
      {"entities", CmdEntities}, {"throttle", CmdThrottle}, {"next", CmdNext},
      {"daily", CmdDaily},       {"jobs", CmdJobs},         {"checkpoints", CmdCheckpoints},
      {"ingest", CmdIngest},     {"alerts", CmdAlerts},     {"tokens", CmdTokens}};
  auto it = kCommands.find(argv[1]);
  if (it == kCommands.end()) {
    return UsageError(std::string("unknown command '") + argv[1] + "'\n" + kUsage);
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
  return it->second(ctx);
}
