#include "common/env_flags.h"

#include <gflags/gflags.h>
#include <glog/logging.h>

#include <cstdlib>

namespace sluice {

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
                 const std::vector<std::pair<std::string, std::string>>& flag_to_env) {
  gflags::SetUsageMessage(usage);
  gflags::SetVersionString(SLUICE_VERSION);
  ApplyEnvFallbacks(flag_to_env);
  gflags::ParseCommandLineFlags(argc, argv, true);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging((*argv)[0]);
}

}  // namespace sluice
