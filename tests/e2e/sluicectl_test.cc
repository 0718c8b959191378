// sluicectl as an operator runs it, a real process against a coordinator that
// is not reachable yet: with --wait_s a call waits for the coordinator within
// that time (gRPC wait-for-ready) instead of failing on the first refused
// connection; with --wait_s=0 it fails at once, naming the address to check.
// Its help is its own: the commands, each command's usage and flags. Its bash
// completion, sourced into a real bash, offers the commands, sub-commands
// and each command's flags.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/coordinator.h"
#include "tests/support/child_process.h"
#include "tests/support/ports.h"
#include "tests/support/test_database.h"

namespace sluice::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class SluicectlTest : public ::testing::Test {
 protected:
  std::unique_ptr<ChildProcess> Run(int port, const std::string& wait, const std::string& name) {
    return std::make_unique<ChildProcess>(
        std::vector<std::string>{SLUICECTL_BINARY, absl::StrCat("--coordinator=127.0.0.1:", port),
                                 "--wait_s=" + wait, "status"},
        std::vector<std::string>{},
        absl::StrCat(::testing::TempDir(), "sluicectl-", getpid(), "-", name, ".log"));
  }

  TestDatabase db_;
};

TEST_F(SluicectlTest, AStatusCallWaitsForACoordinatorThatStartsLate) {
  const int port = UnusedLoopbackPort();
  auto ctl = Run(port, "20", "late");
  ASSERT_GT(ctl->pid(), 0);
  std::this_thread::sleep_for(seconds(2));
  ASSERT_EQ(ctl->Wait(milliseconds(0)), -1)
      << "gave up before the coordinator came: " << ctl->Log();
  CoordinatorOptions co;
  co.listen = absl::StrCat("127.0.0.1:", port);
  co.dsn = db_.dsn();
  co.scheduler.enabled = false;
  Coordinator coordinator(co);
  ASSERT_TRUE(coordinator.Start().ok());
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(ctl->Wait(seconds(20)), 0) << ctl->Log();
  EXPECT_LT(std::chrono::steady_clock::now() - started, seconds(10))
      << "answered only long after the coordinator was up";
  coordinator.Shutdown(seconds(1));
}

TEST_F(SluicectlTest, WithoutWaitingAnUnreachableCoordinatorFailsAtOnceNamingTheAddress) {
  const auto started = std::chrono::steady_clock::now();
  auto ctl = Run(UnusedLoopbackPort(), "0", "nowait");
  EXPECT_EQ(ctl->Wait(seconds(10)), 1) << ctl->Log();
  EXPECT_LT(std::chrono::steady_clock::now() - started, seconds(5));
  EXPECT_NE(ctl->Log().find("UNAVAILABLE"), std::string::npos) << ctl->Log();
  EXPECT_NE(ctl->Log().find("--coordinator"), std::string::npos) << ctl->Log();
}

TEST_F(SluicectlTest, HelpListsTheCommandsAndGlobalFlagsWithoutTheLibrariesFlags) {
  for (const char* ask : {"-h", "--help", "help"}) {
    ChildProcess ctl({SLUICECTL_BINARY, ask}, {},
                     absl::StrCat(::testing::TempDir(), "sluicectl-", getpid(), "-help.log"));
    EXPECT_EQ(ctl.Wait(seconds(10)), 0) << ask << ": " << ctl.Log();
    const std::string out = ctl.Log();
    for (const char* want : {"Commands:", "status", "throttle", "tokens",
                             "--coordinator=", "--wait_s=30", "SLUICE_AUTH_TOKEN"}) {
      EXPECT_NE(out.find(want), std::string::npos) << ask << " lacks " << want << ":\n" << out;
    }
    // gflags' own --help lists every flag of every linked library.
    EXPECT_EQ(out.find("Flags from"), std::string::npos) << ask << ":\n" << out;
    EXPECT_EQ(out.find("minloglevel"), std::string::npos) << ask << ":\n" << out;
  }
}

TEST_F(SluicectlTest, HelpForACommandShowsItsUsageAndItsOwnFlags) {
  struct Case {
    std::vector<std::string> args;
    std::vector<std::string> want;
  };
  for (const Case& c : std::vector<Case>{
           {{"help", "daily"}, {"sluicectl daily", "--characters", "--timeout_s=3600"}},
           {{"jobs", "--help"}, {"sluicectl jobs", "--wait_timeout_s=3600", "--limit=20"}},
           {{"--coordinator", "127.0.0.1:1", "enqueue", "-h"}, {"enqueue KIND", "--priority="}}}) {
    std::vector<std::string> argv = {SLUICECTL_BINARY};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    ChildProcess ctl(argv, {},
                     absl::StrCat(::testing::TempDir(), "sluicectl-", getpid(), "-help-cmd.log"));
    EXPECT_EQ(ctl.Wait(seconds(10)), 0) << ctl.Log();
    for (const std::string& want : c.want) {
      EXPECT_NE(ctl.Log().find(want), std::string::npos) << want << ":\n" << ctl.Log();
    }
    EXPECT_EQ(ctl.Log().find("Commands:"), std::string::npos) << "one command's help only";
  }
}

TEST_F(SluicectlTest, HelpForAnUnknownCommandIsAUsageError) {
  ChildProcess ctl({SLUICECTL_BINARY, "help", "nope"}, {},
                   absl::StrCat(::testing::TempDir(), "sluicectl-", getpid(), "-help-nope.log"));
  EXPECT_EQ(ctl.Wait(seconds(10)), 2) << ctl.Log();
  EXPECT_NE(ctl.Log().find("unknown command 'nope'"), std::string::npos) << ctl.Log();
}

// What `sluicectl completion bash`, sourced into a real bash, offers for the
// command line `words` (the last one is being completed): one word a line.
std::vector<std::string> Completions(const std::vector<std::string>& words) {
  std::string array;
  for (const std::string& w : words) array += " '" + w + "'";
  const std::string script_path =
      absl::StrCat(::testing::TempDir(), "sluicectl-completion-", getpid(), ".sh");
  {
    std::ofstream script(script_path);
    script << "eval \"$(" << SLUICECTL_BINARY << " completion bash)\" || exit 1\n"
           << "complete -p sluicectl >/dev/null || exit 1\n"
           << "COMP_WORDS=(" << array << ")\n"
           << "COMP_CWORD=" << words.size() - 1 << "\n"
           << "COMP_LINE=\"${COMP_WORDS[*]}\"\n"
           << "_sluicectl\n"
           << "printf '%s\\n' \"${COMPREPLY[@]}\"\n";
  }
  std::istringstream out(RunShell("bash --norc --noprofile " + script_path));
  std::vector<std::string> offered;
  for (std::string line; std::getline(out, line);) {
    if (!line.empty()) offered.push_back(line);
  }
  return offered;
}

bool Offers(const std::vector<std::string>& offered, const std::string& word) {
  return std::find(offered.begin(), offered.end(), word) != offered.end();
}

std::string Listed(const std::vector<std::string>& offered) {
  std::string out;
  for (const std::string& w : offered) out += w + " ";
  return out;
}

TEST(SluicectlCompletionTest, BashCompletesCommandsSubcommandsAndEachCommandsFlags) {
  // The commands (and help), from the same table as `sluicectl help`.
  auto offered = Completions({"sluicectl", ""});
  for (const char* command : {"migrate", "enqueue", "status", "daily", "jobs", "tokens",
                              "throttle", "credential", "completion", "help"}) {
    EXPECT_TRUE(Offers(offered, command)) << command << " not offered: " << Listed(offered);
  }
  EXPECT_EQ(Completions({"sluicectl", "da"}), std::vector<std::string>{"daily"});
  // A command's own flags and the global ones; not another command's.
  offered = Completions({"sluicectl", "daily", "--"});
  for (const char* flag : {"--characters", "--timeout_s=", "--progress_ms=", "--coordinator=",
                           "--json", "--wait_s="}) {
    EXPECT_TRUE(Offers(offered, flag)) << flag << " not offered: " << Listed(offered);
  }
  EXPECT_FALSE(Offers(offered, "--priority=")) << Listed(offered);
  EXPECT_EQ(Completions({"sluicectl", "enqueue", "--pr"}), std::vector<std::string>{"--priority="});
  // Sub-commands right after the command, global flags before it.
  EXPECT_EQ(Completions({"sluicectl", "--json", "jobs", "r"}), std::vector<std::string>{"run"});
  offered = Completions({"sluicectl", "tokens", ""});
  for (const char* sub : {"add", "list", "rekey"}) {
    EXPECT_TRUE(Offers(offered, sub)) << sub << " not offered: " << Listed(offered);
  }
  EXPECT_EQ(Completions({"sluicectl", "--coordinator", "=", "h", ":", "1", "daily", "--ch"}),
            std::vector<std::string>{"--characters"});
  // No flag without a dash, no guess at a flag's value.
  EXPECT_TRUE(Completions({"sluicectl", "status", ""}).empty());
  EXPECT_TRUE(Completions({"sluicectl", "daily", "--timeout_s", "=", ""}).empty());
  EXPECT_EQ(Completions({"sluicectl", "help", "thr"}), std::vector<std::string>{"throttle"});
  EXPECT_EQ(Completions({"sluicectl", "completion", ""}), std::vector<std::string>{"bash"});
}

TEST(SluicectlCompletionTest, OnlyBashIsSupported) {
  ChildProcess ctl({SLUICECTL_BINARY, "completion", "zsh"}, {},
                   absl::StrCat(::testing::TempDir(), "sluicectl-", getpid(), "-zsh.log"));
  EXPECT_EQ(ctl.Wait(seconds(10)), 2) << ctl.Log();
  EXPECT_NE(ctl.Log().find("completion bash"), std::string::npos) << ctl.Log();
}

}  // namespace
}  // namespace sluice::testing
