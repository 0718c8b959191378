#include "common/logging/log_line.h"

#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/rfc3339.h"

namespace sluice::logging {
namespace {

bool Blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

}  // namespace

std::string FoldLines(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool pending_break = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') {
      while (!out.empty() && Blank(out.back())) out.pop_back();
      pending_break = !out.empty();
      // Skip the blanks that indent the next line.
      while (i + 1 < text.size() && Blank(text[i + 1])) ++i;
      continue;
    }
    if (pending_break) {
      out += " | ";
      pending_break = false;
    }
    out += c == '\t' ? ' ' : c;
  }
  // A trailing '\r' (CRLF text) is a blank like the others.
  while (!out.empty() && (out.back() == '\r')) out.pop_back();
  return out;
}

std::string FormatJsonLine(const LogRecord& r) {
  nlohmann::json j;
  j["time"] = FormatRfc3339(r.time);
  j["level"] = std::string(r.level);
  j["component"] = std::string(r.component);
  j["source"] = absl::StrCat(r.file, ":", r.line);
  j["thread"] = r.thread;
  j["message"] = FoldLines(r.message);
  if (!r.ids.run_id.empty()) j["run_id"] = r.ids.run_id;
  if (r.ids.task_id != 0) j["task_id"] = r.ids.task_id;
  if (r.ids.lease_id != 0) j["lease_id"] = r.ids.lease_id;
  if (!r.ids.agent_id.empty()) j["agent_id"] = r.ids.agent_id;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string FormatTextLine(const LogRecord& r) {
  const auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(r.time.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char head[96];
  std::snprintf(head, sizeof head, "%c%04d%02d%02d %02d:%02d:%02d.%06lld %5lld ",
                r.level.empty() ? '?' : r.level[0], tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(us % 1000000),
                static_cast<long long>(r.thread));
  std::string out = absl::StrCat(head, r.file, ":", r.line, "] ");
  std::string ids;
  auto add = [&ids](absl::string_view name, const std::string& value) {
    absl::StrAppend(&ids, ids.empty() ? "" : " ", name, "=", value);
  };
  if (!r.ids.run_id.empty() && r.message.find(r.ids.run_id) == absl::string_view::npos) {
    add("run", r.ids.run_id);
  }
  if (r.ids.task_id != 0) add("task", std::to_string(r.ids.task_id));
  if (r.ids.lease_id != 0) add("lease", std::to_string(r.ids.lease_id));
  if (!ids.empty()) absl::StrAppend(&out, "[", ids, "] ");
  out += FoldLines(r.message);
  return out;
}

}  // namespace sluice::logging
