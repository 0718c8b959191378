// sluicectl jobs: the coordinator's scheduled jobs and their recent runs;
// `jobs run NAME` starts one now and, with --wait, follows it to its end.
#include <gflags/gflags.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>

#include "client/cli.h"
#include "client/progress.h"
#include "common/time_util.h"

DEFINE_bool(wait, false, "jobs run: wait for the run to finish; exit 1 unless it succeeded");
DEFINE_int32(wait_timeout_s, 3600, "jobs run --wait: give up after this many seconds");
DEFINE_int32(limit, 20, "jobs: recent runs to list");

namespace sluice::cli {
namespace {

// "2026-11-23T05:09:08Z": seconds are enough for a table.
std::string Short(const google::protobuf::Timestamp& ts) {
  return FormatRfc3339(FromProto(ts)).substr(0, 19) + "Z";
}

std::string Span(double seconds) {
  char buf[32];
  if (seconds < 120) {
    std::snprintf(buf, sizeof(buf), "%.1fs", seconds);
  } else if (seconds < 2 * 3600) {
    std::snprintf(buf, sizeof(buf), "%.0fm", seconds / 60);
  } else {
    std::snprintf(buf, sizeof(buf), "%.0fh", seconds / 3600);
  }
  return buf;
}

double DurationOf(const v1::JobRun& r) {
  if (!r.has_finished_at()) return 0;
  return std::chrono::duration<double>(FromProto(r.finished_at()) - FromProto(r.started_at()))
      .count();
}

nlohmann::json RunJson(const v1::JobRun& r) {
  nlohmann::json j = {{"run_id", r.run_id()},
                      {"job", r.job()},
                      {"started_at", FormatRfc3339(FromProto(r.started_at()))},
                      {"outcome", r.outcome()},
                      {"tasks_queued", r.tasks_queued()},
                      {"upstream_calls", r.upstream_calls()},
                      {"rows_upserted", r.rows_upserted()},
                      {"cache_hits", r.cache_hits()},
                      {"cache_misses", r.cache_misses()},
                      {"errors", r.errors()},
                      {"detail", r.detail()}};
  if (r.has_finished_at()) {
    j["finished_at"] = FormatRfc3339(FromProto(r.finished_at()));
    j["duration_seconds"] = DurationOf(r);
  }
  return j;
}

grpc::Status List(Context& ctx, const std::string& job, int limit, v1::ListJobRunsResponse* resp) {
  v1::ListJobRunsRequest req;
  req.set_job(job);
  req.set_limit(limit);
  grpc::ClientContext call;
  Prepare(ctx, &call);
  return ctx.admin->ListJobRuns(&call, req, resp);
}

int CmdJobsList(Context& ctx) {
  v1::ListJobRunsResponse resp;
  grpc::Status s = List(ctx, "", FLAGS_limit, &resp);
  if (!s.ok()) return RpcError("jobs", s);
  const TimePoint now = FromProto(resp.now());
  if (ctx.json) {
    nlohmann::json jobs = nlohmann::json::array();
    for (const auto& j : resp.jobs()) {
      nlohmann::json o = {{"name", j.name()},
                          {"interval_seconds",
                           std::chrono::duration<double>(FromProtoDuration(j.interval())).count()},
                          {"running_run_id", j.running_run_id()},
                          {"skipped_fail_closed", j.skipped_fail_closed()},
                          {"last_fail_closed_run_id", j.last_fail_closed_run_id()}};
      if (j.has_next_run_at()) o["next_run_at"] = FormatRfc3339(FromProto(j.next_run_at()));
      jobs.push_back(o);
    }
    nlohmann::json runs = nlohmann::json::array();
    for (const auto& r : resp.runs()) runs.push_back(RunJson(r));
    PrintJson({{"jobs", jobs}, {"runs", runs}});
    return 0;
  }
  std::printf("%-12s %8s  %-32s %-36s %s\n", "JOB", "INTERVAL", "NEXT RUN", "RUNNING",
              "FAIL-CLOSED SKIPS");
  for (const auto& j : resp.jobs()) {
    std::string next = "(periodic runs off)";
    if (j.has_next_run_at()) {
      const double in = std::chrono::duration<double>(FromProto(j.next_run_at()) - now).count();
      next = Short(j.next_run_at()) + " (in " + Span(std::max(0.0, in)) + ")";
    }
    std::printf(
        "%-12s %8s  %-32s %-36s %lld\n", j.name().c_str(),
        Span(std::chrono::duration<double>(FromProtoDuration(j.interval())).count()).c_str(),
        next.c_str(), j.running_run_id().empty() ? "-" : j.running_run_id().c_str(),
        static_cast<long long>(j.skipped_fail_closed()));
  }
  std::printf("\n%-36s %-12s %-20s %8s %-9s %7s %7s %8s %6s %6s %6s  %s\n", "RUN ID", "JOB",
              "STARTED", "DURATION", "OUTCOME", "QUEUED", "CALLS", "UPSERTED", "HITS", "MISSES",
              "ERRORS", "DETAIL");
  for (const auto& r : resp.runs()) {
    std::printf("%-36s %-12s %-20s %8s %-9s %7lld %7lld %8lld %6lld %6lld %6lld  %s\n",
                r.run_id().c_str(), r.job().c_str(), Short(r.started_at()).c_str(),
                r.has_finished_at() ? Span(DurationOf(r)).c_str() : "-", r.outcome().c_str(),
                static_cast<long long>(r.tasks_queued()),
                static_cast<long long>(r.upstream_calls()),
                static_cast<long long>(r.rows_upserted()), static_cast<long long>(r.cache_hits()),
                static_cast<long long>(r.cache_misses()), static_cast<long long>(r.errors()),
                r.detail().c_str());
  }
  if (resp.runs().empty()) std::printf("(no runs yet)\n");
  return 0;
}

// Follows a run until it has an outcome. A run skipped fail closed never gets
// a row, so the job's last fail-closed run id is checked too.
int WaitForRun(Context& ctx, const std::string& job, const std::string& run_id) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto deadline = t0 + std::chrono::seconds(FLAGS_wait_timeout_s);
  // While it runs: its counters, calls per second and what it waits for, on
  // one redrawn line (a terminal) or a line every 10 s (a pipe).
  ProgressMeter meter;
  ProgressLine line(stdout, isatty(fileno(stdout)) != 0, 10);
  std::string waiting;
  double asked_at = -1e9;
  while (std::chrono::steady_clock::now() < deadline) {
    v1::ListJobRunsResponse resp;
    grpc::Status s = List(ctx, job, 50, &resp);
    if (!s.ok()) {
      // An outage of the coordinator pauses the following, not the run.
      if (!Transient(s)) return RpcError("jobs run: waiting", s);
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      continue;
    }
    for (const auto& j : resp.jobs()) {
      if (j.last_fail_closed_run_id() == run_id) {
        line.Finish();
        std::cerr << "sluicectl: jobs run: " << run_id
                  << " did not run: the coordinator could not check the job's lock (database "
                     "unreachable; fail closed)"
                  << std::endl;
        return 1;
      }
    }
    for (const auto& r : resp.runs()) {
      if (r.run_id() != run_id || r.outcome() != "running" || ctx.json) continue;
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      meter.Add(elapsed, r.upstream_calls(), 0);
      if (elapsed - asked_at >= 5) {
        waiting = WaitingFor(ctx, "esi/");  // the jobs that call out call ESI
        asked_at = elapsed;
      }
      char text[200];
      std::snprintf(text, sizeof text,
                    "[%s] %s running: calls %lld (%.0f/s), upserted %lld, queued %lld, errors %lld",
                    FormatDuration(elapsed).c_str(), job.c_str(),
                    static_cast<long long>(r.upstream_calls()), meter.Rate(),
                    static_cast<long long>(r.rows_upserted()),
                    static_cast<long long>(r.tasks_queued()), static_cast<long long>(r.errors()));
      line.Show(elapsed, waiting.empty() ? text : std::string(text) + " | waiting: " + waiting,
                waiting);
    }
    for (const auto& r : resp.runs()) {
      if (r.run_id() != run_id || r.outcome() == "running") continue;
      line.Finish();
      if (ctx.json) {
        PrintJson(RunJson(r));
      } else {
        std::printf(
            "%s %s in %s: queued %lld, calls %lld, upserted %lld, cache %lld/%lld, errors "
            "%lld%s%s\n",
            run_id.c_str(), r.outcome().c_str(), Span(DurationOf(r)).c_str(),
            static_cast<long long>(r.tasks_queued()), static_cast<long long>(r.upstream_calls()),
            static_cast<long long>(r.rows_upserted()), static_cast<long long>(r.cache_hits()),
            static_cast<long long>(r.cache_misses()), static_cast<long long>(r.errors()),
            r.detail().empty() ? "" : ": ", r.detail().c_str());
      }
      return r.outcome() == "succeeded" ? 0 : 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  line.Finish();
  std::cerr << "sluicectl: jobs run: " << run_id << " still running after " << FLAGS_wait_timeout_s
            << "s" << std::endl;
  return 1;
}

int CmdJobsRun(Context& ctx) {
  if (ctx.args.size() != 2) return UsageError("usage: sluicectl jobs run NAME [--wait]");
  v1::RunJobRequest req;
  req.set_name(ctx.args[1]);
  v1::RunJobResponse resp;
  grpc::ClientContext call;
  Prepare(ctx, &call);
  grpc::Status s = ctx.admin->RunJob(&call, req, &resp);
  if (!s.ok()) return RpcError("jobs run", s);
  if (!FLAGS_wait || !ctx.json) std::cout << resp.run_id() << std::endl;
  return FLAGS_wait ? WaitForRun(ctx, ctx.args[1], resp.run_id()) : 0;
}

}  // namespace

int CmdJobs(Context& ctx) {
  if (ctx.args.empty()) return CmdJobsList(ctx);
  if (ctx.args[0] == "run") return CmdJobsRun(ctx);
  return UsageError("usage: sluicectl jobs [--json] | sluicectl jobs run NAME [--wait]");
}

}  // namespace sluice::cli
