// ChildProcess runs a project binary (sluice-agent, sluice-coordinator) as a
// real child process for tests that kill, signal and measure processes:
// stdout and stderr go to a log file, the environment is the test's plus
// extra entries, and the child is SIGKILLed at destruction if still running.
//
// Thread-safety: one thread drives an instance.
#ifndef SLUICE_TESTS_SUPPORT_CHILD_PROCESS_H_
#define SLUICE_TESTS_SUPPORT_CHILD_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace sluice::testing {

class ChildProcess {
 public:
  // args[0] is the binary's path. pid() is -1 if it could not be started.
  ChildProcess(const std::vector<std::string>& args, const std::vector<std::string>& env,
               const std::string& log_path);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }
  // Sends `signal` (SIGKILL also reaps the child).
  void Signal(int signal);
  void Kill();
  // Waits for exit up to `timeout`: the exit status, or -1 on timeout or a
  // death by signal.
  int Wait(std::chrono::milliseconds timeout);
  // Peak resident set so far, MiB (VmHWM); -1 if unreadable.
  int64_t PeakRssMib() const;
  std::string Log() const;

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  std::string log_path_;
};

std::string ReadFile(const std::string& path);

// Runs a shell command and returns its stdout; a non-zero exit fails the
// test (non-fatally), naming the command and its output.
std::string RunShell(const std::string& command);

// Polls `done` every 20 ms until true or the timeout; its last answer.
bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout);

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_SUPPORT_CHILD_PROCESS_H_
