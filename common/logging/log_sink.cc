#include "common/logging/log_sink.h"

#include <glog/logging.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <utility>

#include "common/logging/log_context.h"
#include "common/logging/log_line.h"

namespace {

bool ValidLogFormat(const char* /*flag*/, const std::string& value) {
  return value == "text" || value == "json";
}

}  // namespace

DEFINE_string(log_format, "text",
              "log lines on stderr: text (glog's layout) or json (one object per line: time, "
              "level, component, message, run_id / task_id / lease_id / agent_id where known)");
DEFINE_validator(log_format, &ValidLogFormat);

namespace sluice::logging {
namespace {

constexpr absl::string_view kLevels[] = {"INFO", "WARNING", "ERROR", "FATAL"};

class LineSink final : public google::LogSink {
 public:
  LineSink(bool json, std::string component, std::FILE* out)
      : json_(json), component_(std::move(component)), out_(out) {}

  void send(google::LogSeverity severity, const char* /*full_filename*/,
            const char* base_filename, int line, const google::LogMessageTime& time,
            const char* message, size_t message_len) override {
    LogRecord r;
    r.time = std::chrono::system_clock::from_time_t(time.timestamp()) +
             std::chrono::microseconds(time.usec());
    r.level = severity >= 0 && severity < 4 ? kLevels[severity] : "INFO";
    r.component = component_;
    r.file = base_filename;
    r.line = line;
    r.thread = static_cast<int64_t>(syscall(SYS_gettid));
    r.message = absl::string_view(message, message_len);
    r.ids = CurrentLogIds();
    std::string text = json_ ? FormatJsonLine(r) : FormatTextLine(r);
    text += '\n';
    std::lock_guard<std::mutex> lock(mu_);
    std::fwrite(text.data(), 1, text.size(), out_);
    std::fflush(out_);
  }

 private:
  const bool json_;
  const std::string component_;
  std::FILE* const out_;
  std::mutex mu_;  // one record's bytes at a time
};

}  // namespace

absl::Status InstallLogFormat(absl::string_view format, std::string component, std::FILE* out) {
  if (format != "text" && format != "json") {
    return absl::InvalidArgumentError("--log_format must be text or json, got '" +
                                      std::string(format) + "'");
  }
  // Never removed: records may be logged until the process ends.
  static LineSink* sink = nullptr;
  if (sink != nullptr) return absl::FailedPreconditionError("log format installed already");
  sink = new LineSink(format == "json", std::move(component), out);
  google::AddLogSink(sink);
  // The sink writes every record; glog itself writes none (no stderr copy,
  // no log files).
  FLAGS_logtostderr = false;
  FLAGS_alsologtostderr = false;
  FLAGS_stderrthreshold = google::NUM_SEVERITIES;
  for (int severity = 0; severity < google::NUM_SEVERITIES; ++severity) {
    google::SetLogDestination(severity, "");
  }
  return absl::OkStatus();
}

}  // namespace sluice::logging
