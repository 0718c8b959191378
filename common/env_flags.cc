#include "common/env_flags.h"

#include <gflags/gflags.h>
#include <glog/logging.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "common/logging/log_sink.h"

DEFINE_bool(helpenv, false,
            "print each flag that the environment can set and its variable (FLAG VARIABLE, one "
            "per line), then exit; scripts/flag_tables.py reads it for the README");

namespace sluice {
namespace {

std::string EnvOf(const std::vector<std::pair<std::string, std::string>>& flag_to_env,
                  const std::string& flag) {
  for (const auto& [f, env] : flag_to_env) {
    if (f == flag) return env;
  }
  LOG(FATAL) << "secret flag --" << flag << " has no environment variable";
  return "";
}

// Makes --X hold the secret from exactly one source; exits naming the flag
// (never the value) when there are two or the file cannot be read.
void ResolveSecret(const std::string& flag, const std::string& env, int argc, char** argv) {
  gflags::CommandLineFlagInfo value_info;
  gflags::CommandLineFlagInfo file_info;
  CHECK(gflags::GetCommandLineFlagInfo(flag.c_str(), &value_info)) << "unknown flag " << flag;
  CHECK(gflags::GetCommandLineFlagInfo((flag + "_file").c_str(), &file_info))
      << "secret flag --" << flag << " needs --" << flag << "_file (SLUICE_DEFINE_SECRET)";
  const bool on_command_line = !value_info.is_default && !value_info.current_value.empty();
  if (on_command_line) {
    BlankFlagValueInArgv(argc, argv, flag);
    LOG(WARNING) << "--" << flag << " was given on the command line, where every user of this "
                 << "host can read it (ps, /proc); use --" << flag << "_file or " << env
                 << " instead";
  }
  const std::string& path = file_info.current_value;
  if (path.empty()) return;
  if (!value_info.current_value.empty()) {
    LOG(ERROR) << "--" << flag << " is given twice: as a value (--" << flag << " or " << env
               << ") and as a file (--" << flag << "_file or " << env << "_FILE); give one";
    std::exit(2);
  }
  absl::StatusOr<std::string> secret = ReadSecretFile(path);
  if (!secret.ok()) {
    LOG(ERROR) << "--" << flag << "_file: " << secret.status().message();
    std::exit(2);
  }
  gflags::SetCommandLineOption(flag.c_str(), secret->c_str());
}

}  // namespace

void ApplyEnvFallbacks(const std::vector<std::pair<std::string, std::string>>& flag_to_env) {
  for (const auto& [flag, env] : flag_to_env) {
    const char* value = std::getenv(env.c_str());
    if (value == nullptr) continue;
    gflags::CommandLineFlagInfo info;
    CHECK(gflags::GetCommandLineFlagInfo(flag.c_str(), &info)) << "unknown flag " << flag;
    std::string result =
        gflags::SetCommandLineOptionWithMode(flag.c_str(), value, gflags::SET_FLAGS_DEFAULT);
    if (result.empty()) {
      LOG(FATAL) << "environment variable " << env << "='" << value
                 << "' is not a valid value for --" << flag << " (" << info.type << ")";
    }
  }
}

void InitProcess(int* argc, char*** argv, const char* usage,
                 const std::vector<std::pair<std::string, std::string>>& flag_to_env,
                 const std::vector<std::string>& secrets) {
  gflags::SetUsageMessage(usage);
  gflags::SetVersionString(SLUICE_VERSION);
  std::vector<std::pair<std::string, std::string>> env = flag_to_env;
  env.emplace_back("log_format", "SLUICE_LOG_FORMAT");
  for (const std::string& secret : secrets) {
    env.emplace_back(secret + "_file", EnvOf(flag_to_env, secret) + "_FILE");
  }
  ApplyEnvFallbacks(env);
  // gflags reorders argv's pointers; blanking works on the strings, so keep
  // the original order to find them.
  std::vector<char*> original(*argv, *argv + *argc);
  gflags::ParseCommandLineFlags(argc, argv, true);
  if (FLAGS_helpenv) {
    for (const auto& [flag, variable] : env) std::cout << flag << " " << variable << "\n";
    std::exit(0);
  }
  google::InitGoogleLogging((*argv)[0]);
  // Debian's Abseil is built without NDEBUG, so every absl::Mutex (gRPC's
  // locks, several per call) would check lock order against one process-wide
  // graph: about 8% of the coordinator's CPU per unary throttler decision
  // (bench/decision_ab.sh). Tests, which do not start here, keep the check.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // The binary's name names the component on every log line.
  const char* slash = std::strrchr((*argv)[0], '/');
  if (absl::Status s = logging::InstallLogFormat(FLAGS_log_format, slash ? slash + 1 : (*argv)[0]);
      !s.ok()) {
    std::cerr << s.message() << std::endl;
    std::exit(2);
  }
  for (const std::string& secret : secrets) {
    ResolveSecret(secret, EnvOf(flag_to_env, secret), static_cast<int>(original.size()),
                  original.data());
  }
}

absl::StatusOr<std::string> ReadSecretFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return absl::FailedPreconditionError("error reading " + path);
  std::string out = ss.str();
  while (!out.empty() && absl::ascii_isspace(static_cast<unsigned char>(out.back()))) {
    out.pop_back();
  }
  if (out.empty()) return absl::FailedPreconditionError(path + " is empty");
  return out;
}

int BlankFlagValueInArgv(int argc, char** argv, const std::string& flag) {
  int blanked = 0;
  auto blank = [&](char* p) {
    std::memset(p, 'x', std::strlen(p));
    ++blanked;
  };
  for (int i = 1; i < argc; ++i) {
    char* arg = argv[i];
    if (arg == nullptr || arg[0] != '-') continue;
    if (std::strcmp(arg, "--") == 0) break;
    char* name = arg + (arg[1] == '-' ? 2 : 1);
    const size_t n = flag.size();
    if (std::strncmp(name, flag.c_str(), n) != 0) continue;
    if (name[n] == '=') {
      blank(name + n + 1);
    } else if (name[n] == '\0' && i + 1 < argc) {
      blank(argv[++i]);
    }
  }
  return blanked;
}

}  // namespace sluice
