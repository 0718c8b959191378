// The sink installed as every binary installs it: glog's LOG lines come out
// as one JSON object per line, with the thread's ids, and nothing else is
// written to stderr (glog's own copy is off). Its own binary: a process
// installs its log format once.
#include "common/logging/log_sink.h"

#include <glog/logging.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "common/logging/log_context.h"

namespace sluice::logging {
namespace {

std::vector<std::string> Lines(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::vector<std::string> out;
  char buf[4096];
  std::string line;
  while (std::fgets(buf, sizeof buf, f) != nullptr) {
    line += buf;
    if (!line.empty() && line.back() == '\n') {
      line.pop_back();
      out.push_back(line);
      line.clear();
    }
  }
  if (!line.empty()) out.push_back(line);
  return out;
}

TEST(LogSinkTest, JsonFormatWritesEachRecordAsOneJsonLineAndNothingElse) {
  google::InitGoogleLogging("log_sink_test");
  EXPECT_FALSE(InstallLogFormat("yaml", "log_sink_test").ok());
  std::FILE* out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  ::testing::internal::CaptureStderr();
  ASSERT_TRUE(InstallLogFormat("json", "log_sink_test", out).ok());
  EXPECT_FALSE(InstallLogFormat("json", "log_sink_test", out).ok()) << "installed twice";

  LOG(INFO) << "plain line";
  {
    LogIds ids;
    ids.run_id = "daily-20261206T083000-1a2b3c";
    ids.task_id = 12;
    ids.lease_id = 34;
    ids.agent_id = "agent-x";
    ScopedLogIds scope(ids);
    LOG(ERROR) << "commit failed: ERROR:  deadlock detected\nDETAIL:  Process 1 waits\n";
  }
  LOG(WARNING) << "after the scope";
  const std::string stderr_text = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(stderr_text, "") << "glog wrote its own copy";

  const std::vector<std::string> lines = Lines(out);
  ASSERT_EQ(lines.size(), 3u);
  std::vector<nlohmann::json> records;
  for (const std::string& line : lines) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << line;
    for (const char* key : {"time", "level", "component", "message"}) {
      EXPECT_TRUE(j.contains(key)) << key << " missing: " << line;
    }
    EXPECT_EQ(j["component"], "log_sink_test");
    // RFC 3339, UTC, with fractional seconds.
    EXPECT_EQ(j["time"].get<std::string>().size(), 27u) << line;
    EXPECT_EQ(j["time"].get<std::string>().back(), 'Z') << line;
    records.push_back(j);
  }
  EXPECT_EQ(records[0]["level"], "INFO");
  EXPECT_EQ(records[0]["message"], "plain line");
  EXPECT_FALSE(records[0].contains("task_id"));
  EXPECT_EQ(records[1]["level"], "ERROR");
  EXPECT_EQ(records[1]["message"],
            "commit failed: ERROR:  deadlock detected | DETAIL:  Process 1 waits");
  EXPECT_EQ(records[1]["run_id"], "daily-20261206T083000-1a2b3c");
  EXPECT_EQ(records[1]["task_id"], 12);
  EXPECT_EQ(records[1]["lease_id"], 34);
  EXPECT_EQ(records[1]["agent_id"], "agent-x");
  EXPECT_EQ(records[2]["level"], "WARNING");
  EXPECT_FALSE(records[2].contains("run_id"));
}

}  // namespace
}  // namespace sluice::logging
