// Secret flags: the value's file form is read without its trailing newline,
// and a value on the command line is blanked in argv's own memory (which is
// what /proc/<pid>/cmdline shows). The process-level behaviour is
// tests/server/secrets_process_test.cc.
#include "common/env_flags.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace sluice {
namespace {

TEST(EnvFlagsTest, BlanksEveryFormOfTheFlagsValueAndNothingElse) {
  std::vector<std::string> args = {
      "prog",  "--auth_token=s3cret",  "-auth_token=again", "--auth_token",
      "third", "--auth_token_file=/f", "--dsn=host=pg",     "positional"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  EXPECT_EQ(BlankFlagValueInArgv(static_cast<int>(argv.size()), argv.data(), "auth_token"), 3);
  EXPECT_EQ(args[1], "--auth_token=xxxxxx");
  EXPECT_EQ(args[2], "-auth_token=xxxxx");
  EXPECT_EQ(args[3], "--auth_token");
  EXPECT_EQ(args[4], "xxxxx");
  EXPECT_EQ(args[5], "--auth_token_file=/f");
  EXPECT_EQ(args[6], "--dsn=host=pg");
  EXPECT_EQ(args[7], "positional");
}

TEST(EnvFlagsTest, SecretFilesLoseTrailingWhiteSpaceAndMissingOnesNameOnlyThePath) {
  char path[] = "/tmp/sluice-secret-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << "tok en\n\n";
  auto read = ReadSecretFile(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, "tok en");
  std::ofstream(path) << "\n";
  EXPECT_EQ(ReadSecretFile(path).status().code(), absl::StatusCode::kFailedPrecondition);
  std::remove(path);
  auto missing = ReadSecretFile(path);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find(path), std::string::npos);
}

}  // namespace
}  // namespace sluice
