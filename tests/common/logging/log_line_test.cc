// Log lines as the sink writes them: one line per record whatever the
// message holds, JSON that parses with the fields operators filter on, and
// the ids of the thread's scope.
#include "common/logging/log_line.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "common/logging/log_context.h"
#include "common/rfc3339.h"

namespace sluice::logging {
namespace {

// What libpqxx's what() holds for a failed statement: the server's message
// and its DETAIL / HINT / CONTEXT lines, each ending in a newline.
constexpr char kPgError[] =
    "ERROR:  duplicate key value violates unique constraint \"job_runs_pkey\"\n"
    "DETAIL:  Key (run_id)=(daily-1) already exists.\n"
    "HINT:  \tretry\n"
    "\n";

LogRecord Record(absl::string_view message) {
  LogRecord r;
  r.time = std::chrono::system_clock::from_time_t(1765010442) + std::chrono::microseconds(123456);
  r.level = "WARNING";
  r.component = "sluice-coordinator";
  r.file = "scheduler.cc";
  r.line = 266;
  r.thread = 4711;
  r.message = message;
  return r;
}

TEST(FoldLinesTest, APostgresErrorBecomesOneLineKeepingEveryPart) {
  EXPECT_EQ(FoldLines(kPgError),
            "ERROR:  duplicate key value violates unique constraint \"job_runs_pkey\" | "
            "DETAIL:  Key (run_id)=(daily-1) already exists. | HINT:   retry");
}

TEST(FoldLinesTest, CrlfAndBlankLinesAddNoEmptyParts) {
  EXPECT_EQ(FoldLines("a\r\n\r\n  b\r\n"), "a | b");
  EXPECT_EQ(FoldLines("single"), "single");
  EXPECT_EQ(FoldLines("\n\nx"), "x");
}

TEST(FormatJsonLineTest, OneObjectWithTimeLevelComponentMessageAndTheIdsSet) {
  LogRecord r = Record(kPgError);
  r.ids.run_id = "daily-20261206T083000-1a2b3c";
  r.ids.task_id = 42;
  r.ids.lease_id = 9001;
  r.ids.agent_id = "host/7";
  const std::string line = FormatJsonLine(r);
  EXPECT_EQ(line.find('\n'), std::string::npos) << line;
  nlohmann::json j = nlohmann::json::parse(line);
  EXPECT_EQ(j["time"], FormatRfc3339(r.time));
  EXPECT_EQ(j["time"], "2025-12-06T08:40:42.123456Z");
  EXPECT_EQ(j["level"], "WARNING");
  EXPECT_EQ(j["component"], "sluice-coordinator");
  EXPECT_EQ(j["source"], "scheduler.cc:266");
  EXPECT_EQ(j["message"], FoldLines(kPgError));
  EXPECT_EQ(j["run_id"], "daily-20261206T083000-1a2b3c");
  EXPECT_EQ(j["task_id"], 42);
  EXPECT_EQ(j["lease_id"], 9001);
  EXPECT_EQ(j["agent_id"], "host/7");
}

TEST(FormatJsonLineTest, UnknownIdsAreLeftOutNotWrittenEmpty) {
  nlohmann::json j = nlohmann::json::parse(FormatJsonLine(Record("hello")));
  for (const char* key : {"run_id", "task_id", "lease_id", "agent_id"}) {
    EXPECT_FALSE(j.contains(key)) << key << " in " << j.dump();
  }
}

TEST(FormatJsonLineTest, InvalidUtf8InAMessageStillGivesValidJson) {
  const std::string line = FormatJsonLine(Record("upstream said \xff\xfe"));
  EXPECT_TRUE(nlohmann::json::accept(line)) << line;
}

TEST(FormatTextLineTest, GlogLayoutWithIdsAndTheFoldedMessage) {
  LogRecord r = Record(kPgError);
  r.ids.task_id = 42;
  r.ids.lease_id = 9001;
  r.ids.agent_id = "host/7";
  EXPECT_EQ(FormatTextLine(r),
            "W20251206 08:40:42.123456  4711 scheduler.cc:266] [task=42 lease=9001] " +
                FoldLines(kPgError));
}

TEST(FormatTextLineTest, ARunIdTheMessageNamesIsNotRepeated) {
  LogRecord r = Record("[run snapshots-1] lock taken");
  r.ids.run_id = "snapshots-1";
  EXPECT_EQ(FormatTextLine(r), "W20251206 08:40:42.123456  4711 scheduler.cc:266] [run snapshots-1] lock taken");
  r.message = "lock taken";
  EXPECT_EQ(FormatTextLine(r),
            "W20251206 08:40:42.123456  4711 scheduler.cc:266] [run=snapshots-1] lock taken");
}

TEST(ScopedLogIdsTest, ScopesNestOverTheProcessIdsAndRestoreOnExit) {
  LogIds process;
  process.agent_id = "agent-a";
  SetProcessLogIds(process);
  EXPECT_EQ(CurrentLogIds().agent_id, "agent-a");
  {
    LogIds run;
    run.run_id = "daily-1";
    ScopedLogIds outer(run);
    {
      LogIds task;
      task.task_id = 7;
      task.lease_id = 70;
      ScopedLogIds inner(task);
      const LogIds now = CurrentLogIds();
      EXPECT_EQ(now.run_id, "daily-1");
      EXPECT_EQ(now.task_id, 7);
      EXPECT_EQ(now.lease_id, 70);
      EXPECT_EQ(now.agent_id, "agent-a");
      // Another thread sees none of this thread's scopes.
      LogIds other;
      std::thread([&] { other = CurrentLogIds(); }).join();
      EXPECT_EQ(other.task_id, 0);
      EXPECT_EQ(other.run_id, "");
      EXPECT_EQ(other.agent_id, "agent-a");
    }
    EXPECT_EQ(CurrentLogIds().task_id, 0);
    EXPECT_EQ(CurrentLogIds().run_id, "daily-1");
  }
  EXPECT_EQ(CurrentLogIds().run_id, "");
  SetProcessLogIds(LogIds());
}

}  // namespace
}  // namespace sluice::logging
