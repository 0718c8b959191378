#include "client/commands.h"

#include <gflags/gflags.h>

#include <sstream>

namespace sluice::cli {
namespace {

// "  --name=DEFAULT   description", from the flag's definition.
void PrintFlag(std::ostringstream& out, const char* name) {
  gflags::CommandLineFlagInfo info;
  if (!gflags::GetCommandLineFlagInfo(name, &info)) return;
  std::string left = "  --" + info.name;
  if (info.type != "bool") left += "=" + (info.default_value.empty() ? "\"\"" : info.default_value);
  out << left;
  if (left.size() < 26)
    out << std::string(26 - left.size(), ' ');
  else
    out << "\n" << std::string(26, ' ');
  out << info.description << "\n";
}

}  // namespace

const std::vector<const char*>& GlobalFlags() {
  static const std::vector<const char*> kGlobalFlags = {
      "coordinator", "auth_token", "auth_token_file", "tls_ca", "json", "wait_s"};
  return kGlobalFlags;
}

const std::vector<CommandSpec>& Commands() {
  static const std::vector<CommandSpec> kCommands = {
      {"migrate",
       CmdMigrate,
       "migrate [--dsn_file=FILE]",
       "apply schema migrations",
       "With a DSN (--dsn_file, SLUICE_DSN or --dsn), migrates that database directly; else "
       "asks the coordinator to.",
       {"dsn", "dsn_file"}},
      {"enqueue",
       CmdEnqueue,
       "enqueue KIND [IDS...]",
       "queue ids of a kind",
       "KIND alliance_ids takes no ids (it lists every alliance).",
       {"priority"}},
      {"status",
       CmdStatus,
       "status",
       "queue depth per kind, leases and the agents holding them",
       "",
       {}},
      {"entities", CmdEntities, "entities", "stored entities per kind", "", {}},
      {"throttle",
       CmdThrottle,
       "throttle [MATCH] | throttle clear BUDGET",
       "the global throttler's budgets: learned limits, headroom, counters",
       "Every budget family with its most constrained budget; with MATCH, the budgets whose\n"
       "name starts with it or whose scope is it (\"char:90000001\"). A restriction shows who\n"
       "reported it when that was not an agent, and whether it was capped; \"tightened 40s by\n"
       "NAME\" is what another caller's headers hold back (capped alike).\n"
       "clear BUDGET lifts the budget's restriction and its escalated backoff, and other\n"
       "callers' tightening (operator role).",
       {},
       {"clear"}},
      {"next",
       CmdNext,
       "next UPSTREAM ROUTE [CALLER [EGRESS]]",
       "when may ROUTE next be called",
       "For example: sluicectl next esi /characters/{id}/killmails/recent/ char:90000001",
       {}},
      {"daily",
       CmdDaily,
       "daily [--characters]",
       "run the daily ESI sequence and follow it to the end",
       "The sequence is recorded as a run of the job `daily` (its run id is printed first, and "
       "`sluicectl jobs` lists it): succeeded when its tasks have drained, failed when the "
       "command gives up (--timeout_s).",
       {"characters", "timeout_s", "progress_ms"}},
      {"jobs",
       CmdJobs,
       "jobs | jobs run NAME [--wait]",
       "scheduled jobs and recent runs; run a job now",
       "`jobs run NAME` starts a job (daily_esi, snapshots, ...) and prints its run id.",
       {"limit", "wait", "wait_timeout_s"},
       {"run"}},
      {"checkpoints",
       CmdCheckpoints,
       "checkpoints [PREFIX]",
       "stream checkpoints: cursors, their age, polls, pages, rows",
       "",
       {}},
      {"ingest",
       CmdIngest,
       "ingest [STREAM]",
       "poe_ingest_status: lag, request rate, rows, errors, 429s per stream",
       "",
       {}},
      {"alerts",
       CmdAlerts,
       "alerts",
       "stream alerts firing now and recent events",
       "",
       {"alerts_history"}},
      {"tokens",
       CmdTokens,
       "tokens add ID TOKEN|- | tokens list | tokens rekey",
       "character tokens for killmail sync (\"-\" reads the token from stdin); rekey seals every "
       "stored token under the coordinator's current key",
       "",
       {"expires"},
       {"add", "list", "rekey"}},
      {"credential",
       CmdCredential,
       "credential NAME ROLE [upstreams=A,B] [routes=/P/,/Q/]",
       "an --auth_file line for the token read from stdin (its SHA-256, never the token)",
       "ROLE is agent, operator or team; upstreams= and routes= limit a team. Needs no "
       "coordinator.",
       {}},
      {"completion",
       CmdCompletion,
       "completion bash",
       "print a bash completion script for sluicectl's commands and flags",
       "Install it for your user with\n"
       "  sluicectl completion bash > ~/.local/share/bash-completion/completions/sluicectl\n"
       "or for this shell with `source <(sluicectl completion bash)`. Needs no coordinator.",
       {},
       {"bash"}},
  };
  return kCommands;
}

const CommandSpec* FindCommand(const std::string& name) {
  for (const CommandSpec& c : Commands()) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

std::string GeneralUsage() {
  std::ostringstream out;
  out << "sluicectl COMMAND [ARGS] [--flags]\n\nCommands:\n";
  for (const CommandSpec& c : Commands()) {
    std::string name = std::string("  ") + c.name;
    out << name << std::string(name.size() < 18 ? 18 - name.size() : 1, ' ') << c.summary << "\n";
  }
  out << "  help [COMMAND]  this list, or one command's usage and flags\n\nGlobal flags:\n";
  for (const char* f : GlobalFlags()) PrintFlag(out, f);
  out << "\nEnvironment: SLUICE_COORDINATOR, SLUICE_AUTH_TOKEN, SLUICE_TLS_CA stand in for the "
         "flags.\n";
  return out.str();
}

std::string CommandUsage(const CommandSpec& command) {
  std::ostringstream out;
  out << "sluicectl " << command.usage << "\n\n" << command.summary << ".\n";
  if (command.details[0] != '\0') out << command.details << "\n";
  if (!command.flags.empty()) {
    out << "\nFlags:\n";
    for (const char* f : command.flags) PrintFlag(out, f);
  }
  out << "\nGlobal flags: see `sluicectl help`.\n";
  return out.str();
}

}  // namespace sluice::cli
