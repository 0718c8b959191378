// 12-factor configuration: every flag may also come from the environment.
// Precedence: command line > environment > built-in default.
#ifndef SLUICE_COMMON_ENV_FLAGS_H_
#define SLUICE_COMMON_ENV_FLAGS_H_

#include <string>
#include <utility>
#include <vector>

namespace sluice {

// For each (flag, ENV_VAR) pair whose variable is set, makes the variable's
// value the flag's default. Call before gflags::ParseCommandLineFlags.
// Unknown flag names abort: they are programming errors.
void ApplyEnvFallbacks(const std::vector<std::pair<std::string, std::string>>& flag_to_env);

// Parses flags (after env fallbacks), initialises glog to stderr.
void InitProcess(int* argc, char*** argv, const char* usage,
                 const std::vector<std::pair<std::string, std::string>>& flag_to_env);

}  // namespace sluice

#endif  // SLUICE_COMMON_ENV_FLAGS_H_
