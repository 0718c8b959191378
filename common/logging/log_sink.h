// How every binary's glog output is written: --log_format=text|json on
// stderr, one line per record, multi-line messages folded (log_line.h), the
// thread's correlation ids attached (log_context.h). glog stays the logging
// API (LOG, VLOG, CHECK); InstallLogFormat adds a glog LogSink that formats
// and writes each record, and turns glog's own stderr and log-file output
// off, so each record is written once, by the sink.
//
// InitProcess (common/env_flags.h) calls it for every binary; nothing else
// should. Thread-safety: InstallLogFormat once, at start-up, after
// google::InitGoogleLogging; the sink is safe from any thread.
#ifndef SLUICE_COMMON_LOGGING_LOG_SINK_H_
#define SLUICE_COMMON_LOGGING_LOG_SINK_H_

#include <gflags/gflags.h>

#include <cstdio>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

DECLARE_string(log_format);

namespace sluice::logging {

// format: "text" or "json" (INVALID_ARGUMENT otherwise, and nothing
// changes). component names the binary on JSON lines. Records go to `out`
// (stderr; tests pass a file), which must stay open for the process's life.
absl::Status InstallLogFormat(absl::string_view format, std::string component,
                              std::FILE* out = stderr);

}  // namespace sluice::logging

#endif  // SLUICE_COMMON_LOGGING_LOG_SINK_H_
