// 12-factor configuration: every flag may also come from the environment.
// Precedence: command line > environment > built-in default.
//
// Secrets (bearer tokens, the DSN with its password, keys) are flags like any
// other, but each also has a file form, --X_file=/path (env X_ENV_FILE), for a
// mounted Kubernetes Secret: a value on the command line is visible to every
// user of the host in `ps` and /proc/<pid>/cmdline, so it is accepted with a
// warning (never naming the value). Declare one with SLUICE_DEFINE_SECRET and
// list it in InitProcess's `secrets`.
#ifndef SLUICE_COMMON_ENV_FLAGS_H_
#define SLUICE_COMMON_ENV_FLAGS_H_

#include <gflags/gflags.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

// Defines --name (the value) and --name_file (a file holding it).
#define SLUICE_DEFINE_SECRET(name, help)                      \
  DEFINE_string(name, "",                                     \
                help " (secret: prefer --" #name              \
                     "_file or the environment; the command " \
                     "line is visible to every user)");       \
  DEFINE_string(name##_file, "", "file holding --" #name " (e.g. a mounted Secret)")

namespace sluice {

// For each (flag, ENV_VAR) pair whose variable is set, makes the variable's
// value the flag's default. Call before gflags::ParseCommandLineFlags.
// Unknown flag names abort: they are programming errors.
void ApplyEnvFallbacks(const std::vector<std::pair<std::string, std::string>>& flag_to_env);

// Parses flags (after env fallbacks), initialises glog and its output on
// stderr (--log_format, env SLUICE_LOG_FORMAT: common/logging/log_sink.h), then
// resolves each secret flag named in `secrets` (each defined with
// SLUICE_DEFINE_SECRET and listed in flag_to_env): the value comes from
// --X, env X's variable, --X_file or env `<X's variable>_FILE`, exactly one
// of them. A value given on the command line is logged as a warning and
// blanked in this process's argv (so /proc/<pid>/cmdline stops showing it);
// two sources, or an unreadable file, end the process with a message naming
// the flag, never the value. Also turns off Abseil's mutex deadlock detection
// (on in Debian's build, a cost on every lock gRPC takes).
void InitProcess(int* argc, char*** argv, const char* usage,
                 const std::vector<std::pair<std::string, std::string>>& flag_to_env,
                 const std::vector<std::string>& secrets = {});

// A secret file's content without trailing white space (echo adds a newline,
// and so may an editor). NOT_FOUND / FAILED_PRECONDITION name the path only.
absl::StatusOr<std::string> ReadSecretFile(const std::string& path);

// Overwrites the value of `--flag=value`, `-flag=value` or `--flag value` in
// argv[1..argc) with 'x's, in place: the kernel serves /proc/<pid>/cmdline
// from this memory. Returns how many values it blanked.
int BlankFlagValueInArgv(int argc, char** argv, const std::string& flag);

}  // namespace sluice

#endif  // SLUICE_COMMON_ENV_FLAGS_H_
