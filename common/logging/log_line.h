// One log line in either format, and the one folding of multi-line messages
// (libpqxx's errors carry DETAIL / HINT / CONTEXT lines; a stack of lines
// breaks one-line-per-record readers and loses the line's ids):
//
//   text: I20261206 08:40:42.123456  4711 scheduler.cc:266] [run=... task=7 lease=31] lock taken
//   json: {"time":"2026-12-06T08:40:42.123456Z","level":"INFO","component":"sluice-coordinator",
//          "source":"scheduler.cc:266","thread":4711,"message":"lock taken","run_id":"...",
//          "task_id":7,"lease_id":31}
//
// Pure functions (no glog): the sink (log_sink.h) feeds them, tests call them.
// Thread-safe.
#ifndef SLUICE_COMMON_LOGGING_LOG_LINE_H_
#define SLUICE_COMMON_LOGGING_LOG_LINE_H_

#include <string>

#include "absl/strings/string_view.h"
#include "common/clock.h"
#include "common/logging/log_context.h"

namespace sluice::logging {

struct LogRecord {
  TimePoint time;
  // "INFO", "WARNING", "ERROR" or "FATAL".
  absl::string_view level;
  // The binary ("sluice-coordinator", "sluice-agent", ...).
  absl::string_view component;
  // Where the line was logged: the source file's base name and line.
  absl::string_view file;
  int line = 0;
  int64_t thread = 0;
  absl::string_view message;
  LogIds ids;
};

// `text` on one line: each line break (with the blanks around it) becomes
// " | ", trailing breaks go, and an empty line adds nothing; tabs become
// spaces. "ERROR:  x\nDETAIL:  y\n" -> "ERROR:  x | DETAIL:  y".
std::string FoldLines(absl::string_view text);

// The record as one JSON object (no trailing newline): time (RFC 3339, UTC,
// microseconds), level, component, source, thread, message (folded), and
// run_id / task_id / lease_id / agent_id when set. Invalid UTF-8 in the
// message is replaced, never thrown on.
std::string FormatJsonLine(const LogRecord& record);

// The record as glog's text line (severity letter, date with the year, time
// in UTC, thread, file:line) with the folded message, preceded by the run,
// task and lease ids in brackets when any is set (a run id the message names
// already is not repeated). The agent id is left out: every line of an agent
// would repeat it. No trailing newline.
std::string FormatTextLine(const LogRecord& record);

}  // namespace sluice::logging

#endif  // SLUICE_COMMON_LOGGING_LOG_LINE_H_
