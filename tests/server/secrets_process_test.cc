// Secrets of a real sluice-coordinator process. Given by file, the DSN's
// password, the bearer token and the token key appear neither in
// /proc/<pid>/cmdline nor in the log; given on the command line, a secret is
// accepted, warned about by name only, and blanked from /proc/<pid>/cmdline.
// A DSN with a wrong password fails naming neither the host, the user nor the
// password (a cluster of the test's own, with password authentication for
// one role). A coordinator asked to listen beyond loopback with no credential
// refuses to start unless told --allow_unauthenticated.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "sluice/v1/admin.grpc.pb.h"
#include "tests/support/child_process.h"
#include "tests/support/ports.h"
#include "tests/support/test_database.h"

namespace sluice::testing {
namespace {

using std::chrono::seconds;

constexpr char kDsnPassword[] = "dsn-pass-7f3a91";
constexpr char kAuthToken[] = "bearer-secret-c4e2d8";
constexpr char kTokenKey[] = "9c3e5a7b1d2f4608a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6";

std::string TempPath(const std::string& name) {
  return absl::StrCat(::testing::TempDir(), "secrets-", getpid(), "-", name);
}

std::string WriteSecret(const std::string& name, const std::string& value) {
  const std::string path = TempPath(name);
  std::ofstream(path) << value << "\n";
  return path;
}

// NUL-separated argv as the kernel shows it to every user.
std::string Cmdline(pid_t pid) {
  std::string s = ReadFile(absl::StrCat("/proc/", pid, "/cmdline"));
  std::replace(s.begin(), s.end(), '\0', ' ');
  return s;
}

bool Serves(int port, const std::string& token) {
  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  auto admin = v1::AdminService::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer " + token);
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
  v1::QueueStatusResponse resp;
  return admin->QueueStatus(&ctx, v1::QueueStatusRequest(), &resp).ok();
}

// Children inherit the test's environment, where SLUICE_DSN may be set (the
// throwaway cluster's script sets it): with --dsn_file that is a second DSN.
class SecretsProcessTest : public ::testing::Test {
 protected:
  void SetUp() override { unsetenv("SLUICE_DSN"); }
};

TEST_F(SecretsProcessTest, SecretsGivenByFileAreNeitherInArgvNorInTheLog) {
  TestDatabase db;
  const std::string dsn = db.dsn() + " password=" + kDsnPassword;  // trust auth ignores it
  const int port = UnusedLoopbackPort();
  ChildProcess coordinator({SLUICE_COORDINATOR_BINARY, absl::StrCat("--listen=127.0.0.1:", port),
                            "--ops_listen=", "--jobs_enabled=false", "--db_pool_size=2",
                            "--drain_s=1", "--dsn_file=" + WriteSecret("dsn", dsn),
                            "--auth_token_file=" + WriteSecret("token", kAuthToken)},
                           // SLUICE_DSN may be set in the test's own environment: a second DSN.
                           {"GLOG_logtostderr=1", "SLUICE_DSN=",
                            "SLUICE_TOKEN_KEY_FILE=" + WriteSecret("key", kTokenKey)},
                           TempPath("file.log"));
  ASSERT_GT(coordinator.pid(), 0);
  ASSERT_TRUE(WaitUntil([&] { return Serves(port, kAuthToken); }, seconds(60)))
      << coordinator.Log();
  const std::string cmdline = Cmdline(coordinator.pid());
  const std::string log = coordinator.Log();
  for (const std::string secret : {kDsnPassword, kAuthToken, kTokenKey}) {
    EXPECT_EQ(cmdline.find(secret), std::string::npos) << cmdline;
    EXPECT_EQ(log.find(secret), std::string::npos) << log;
  }
  EXPECT_NE(log.find("stored ESI tokens under key"), std::string::npos)
      << "the key from SLUICE_TOKEN_KEY_FILE was read:\n"
      << log;
  EXPECT_EQ(log.find("given on the command line"), std::string::npos) << log;
}

TEST_F(SecretsProcessTest, ASecretOnTheCommandLineIsWarnedAboutAndBlankedFromCmdline) {
  TestDatabase db;
  const int port = UnusedLoopbackPort();
  ChildProcess coordinator(
      {SLUICE_COORDINATOR_BINARY, absl::StrCat("--listen=127.0.0.1:", port),
       "--ops_listen=", "--jobs_enabled=false", "--db_pool_size=2", "--drain_s=1",
       "--dsn=" + db.dsn(), absl::StrCat("--auth_token=", kAuthToken)},
      {"GLOG_logtostderr=1"}, TempPath("argv.log"));
  ASSERT_GT(coordinator.pid(), 0);
  ASSERT_TRUE(WaitUntil([&] { return Serves(port, kAuthToken); }, seconds(60)))
      << coordinator.Log();
  EXPECT_EQ(Cmdline(coordinator.pid()).find(kAuthToken), std::string::npos)
      << Cmdline(coordinator.pid());
  const std::string log = coordinator.Log();
  EXPECT_NE(log.find("--auth_token was given on the command line"), std::string::npos) << log;
  EXPECT_NE(log.find("--dsn was given on the command line"), std::string::npos) << log;
  EXPECT_EQ(log.find(kAuthToken), std::string::npos) << log;
}

TEST_F(SecretsProcessTest, AWrongDatabasePasswordFailsNamingNeitherHostUserNorPassword) {
  // A cluster of the test's own: the shared one trusts every connection.
  const std::string started =
      RunShell(absl::StrCat(SLUICE_SOURCE_DIR, "/scripts/pg_throwaway.sh start"));
  auto value = [&](const std::string& key) {
    const size_t at = started.find(key);
    if (at == std::string::npos) return std::string();
    const size_t begin = at + key.size();
    return started.substr(begin, started.find_first_of("'\n", begin) - begin);
  };
  const std::string dir = value("SLUICE_PGDIR=");
  const std::string admin_dsn = value("SLUICE_DSN='");
  ASSERT_FALSE(dir.empty()) << started;
  struct Stop {
    std::string dir;
    ~Stop() { RunShell(absl::StrCat(SLUICE_SOURCE_DIR, "/scripts/pg_throwaway.sh stop ", dir)); }
  } stop{dir};
  // One role that must give its password over TCP; every other stays trusted.
  RunShell(absl::StrCat("psql -q '", admin_dsn,
                        "' -c \"CREATE ROLE sluice_pw_user LOGIN PASSWORD 'right-password'\""));
  const std::string hba = dir + "/data/pg_hba.conf";
  const std::string rules = ReadFile(hba);
  std::ofstream(hba) << "host all sluice_pw_user 127.0.0.1/32 scram-sha-256\n" << rules;
  RunShell(absl::StrCat("psql -q '", admin_dsn, "' -c 'SELECT pg_reload_conf()'"));

  const std::string host_port = admin_dsn.substr(0, admin_dsn.find(" user="));  // host=.. port=..
  const std::string dsn =
      absl::StrCat(host_port, " user=sluice_pw_user dbname=postgres password=", kDsnPassword);
  const int port = UnusedLoopbackPort();
  ChildProcess coordinator({SLUICE_COORDINATOR_BINARY, absl::StrCat("--listen=127.0.0.1:", port),
                            "--ops_listen=", "--jobs_enabled=false", "--db_pool_size=1",
                            "--drain_s=1", "--dsn_file=" + WriteSecret("wrong-dsn", dsn)},
                           {"GLOG_logtostderr=1"}, TempPath("wrong.log"));
  ASSERT_GT(coordinator.pid(), 0);
  // It fails, or keeps failing while it retries: either way it says so.
  WaitUntil(
      [&] { return coordinator.Log().find("password authentication failed") != std::string::npos; },
      seconds(30));
  coordinator.Kill();
  const std::string log = coordinator.Log();
  EXPECT_NE(log.find("password authentication failed"), std::string::npos) << log;
  const std::string port_text = host_port.substr(host_port.find("port=") + 5);
  for (const std::string& secret : {std::string(kDsnPassword), std::string("sluice_pw_user"),
                                    std::string("127.0.0.1\""), port_text}) {
    EXPECT_EQ(log.find(secret), std::string::npos) << "'" << secret << "' in:\n" << log;
  }
}

TEST_F(SecretsProcessTest, ListeningBeyondLoopbackWithoutACredentialRefusesToStart) {
  TestDatabase db;
  const int port = UnusedLoopbackPort();
  ChildProcess refused({SLUICE_COORDINATOR_BINARY, absl::StrCat("--listen=0.0.0.0:", port),
                        "--ops_listen=", "--jobs_enabled=false", "--db_pool_size=1"},
                       {"GLOG_logtostderr=1", "SLUICE_DSN=" + db.dsn()}, TempPath("open.log"));
  EXPECT_EQ(refused.Wait(seconds(30)), 2) << refused.Log();
  EXPECT_NE(refused.Log().find("refusing to listen on 0.0.0.0"), std::string::npos)
      << refused.Log();
  EXPECT_NE(refused.Log().find("--allow_unauthenticated"), std::string::npos) << refused.Log();

  ChildProcess allowed({SLUICE_COORDINATOR_BINARY, absl::StrCat("--listen=0.0.0.0:", port),
                        "--ops_listen=", "--jobs_enabled=false", "--db_pool_size=1",
                        "--allow_unauthenticated", "--drain_s=1"},
                       {"GLOG_logtostderr=1", "SLUICE_DSN=" + db.dsn()}, TempPath("allowed.log"));
  EXPECT_TRUE(WaitUntil([&] { return Serves(port, ""); }, seconds(60))) << allowed.Log();
}

}  // namespace
}  // namespace sluice::testing
