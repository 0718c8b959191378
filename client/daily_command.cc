// sluicectl daily: starts seed 001's daily sequence and follows it to the end,
// printing progress (share done, rate, ETA, what it waits for), then a
// summary.
#include <gflags/gflags.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include "client/cli.h"
#include "client/progress.h"
#include "common/time_util.h"

DEFINE_bool(characters, false, "daily: also refresh every known character");
DEFINE_int32(timeout_s, 3600, "daily: give up after this many seconds");
DEFINE_int32(progress_ms, 1000, "daily: progress interval");

namespace sluice::cli {
namespace {

const std::set<std::string> kDailyKinds = {"alliance_ids",          "alliance",
                                           "alliance_corporations", "corporation",
                                           "corporation_members",   "character"};

struct Snapshot {
  int64_t pending = 0;  // ready + leased + retrying
  int64_t dead = 0;
  std::map<std::string, int64_t> pending_by_kind;
  std::map<std::string, std::pair<int64_t, int64_t>> entities;  // total, refreshed since start
};

grpc::Status Take(Context& ctx, const google::protobuf::Timestamp& since, Snapshot* out) {
  v1::QueueStatusResponse q;
  grpc::ClientContext c1;
  Prepare(ctx, &c1);
  grpc::Status s = ctx.admin->QueueStatus(&c1, v1::QueueStatusRequest(), &q);
  if (!s.ok()) return s;
  for (const auto& k : q.kinds()) {
    // Only the daily sequence's kinds: stream tasks never drain, and other
    // workflows (killmails, contracts) are not this command's to wait for.
    if (kDailyKinds.count(k.kind()) == 0) continue;
    int64_t p = k.ready() + k.leased() + k.retrying();
    out->pending += p;
    out->dead += k.dead();
    if (p) out->pending_by_kind[k.kind()] = p;
  }
  v1::EntityCountsRequest req;
  *req.mutable_since() = since;
  v1::EntityCountsResponse e;
  grpc::ClientContext c2;
  Prepare(ctx, &c2);
  s = ctx.admin->EntityCounts(&c2, req, &e);
  if (!s.ok()) return s;
  for (const auto& c : e.counts()) out->entities[c.kind()] = {c.count(), c.refreshed_since()};
  return grpc::Status::OK;
}

// Entities the sequence refreshed: its job_runs row's rows_upserted.
int64_t Refreshed(const Snapshot& snap) {
  int64_t n = 0;
  for (const char* kind : {"alliance", "corporation", "character"}) {
    auto it = snap.entities.find(kind);
    if (it != snap.entities.end()) n += it->second.second;
  }
  return n;
}

// Ends the run StartDaily opened, retrying a coordinator that is away for a
// moment. A run that cannot be closed stays 'running' in `sluicectl jobs`:
// said on stderr, and the command fails.
bool FinishRun(Context& ctx, const std::string& run_id, const Snapshot& snap, bool failed,
               const std::string& detail) {
  if (run_id.empty()) return true;  // a coordinator that records no daily runs
  v1::FinishDailyRequest req;
  req.set_run_id(run_id);
  req.set_failed(failed);
  req.set_detail(detail);
  req.set_rows_upserted(Refreshed(snap));
  req.set_errors(snap.dead);
  grpc::Status s;
  for (int attempt = 0; attempt < 10; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::seconds(1));
    v1::FinishDailyResponse resp;
    grpc::ClientContext call;
    Prepare(ctx, &call);
    s = ctx.admin->FinishDaily(&call, req, &resp);
    if (s.ok() || !Transient(s)) break;
  }
  if (!s.ok()) {
    std::cerr << "sluicectl: daily: run " << run_id << " not recorded as finished ("
              << s.error_message() << ")" << std::endl;
    return false;
  }
  return true;
}

}  // namespace

int CmdDaily(Context& ctx) {
  v1::StartDailyRequest req;
  req.set_include_characters(FLAGS_characters);
  req.set_priority(v1::PRIORITY_CLASS_BACKGROUND);
  v1::StartDailyResponse started;
  grpc::ClientContext call;
  Prepare(ctx, &call, 120000);
  grpc::Status s = ctx.admin->StartDaily(&call, req, &started);
  if (!s.ok()) return RpcError("daily", s);
  const auto t0 = std::chrono::steady_clock::now();
  const std::string run_id = started.run_id();
  if (!ctx.json)
    std::cout << "daily sequence started as run " << run_id << " (" << started.tasks_queued()
              << " task(s) queued)" << std::endl;

  Snapshot snap;
  ProgressMeter meter;
  // A terminal gets one redrawn line; a pipe or file a line every 10 s, or
  // when what the run waits for changes.
  ProgressLine line(stdout, isatty(fileno(stdout)) != 0, 10);
  std::string waiting;
  double asked_at = -1e9;
  // A task can be between "completed" and "its discoveries queued" only
  // inside one transaction, so an empty queue seen twice in a row is the end.
  int empty_seen = 0;
  bool unreachable = false;
  while (true) {
    std::this_thread::sleep_for(std::chrono::milliseconds(FLAGS_progress_ms));
    snap = Snapshot();
    s = Take(ctx, started.started_at(), &snap);
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!s.ok()) {
      // The sequence runs in the coordinator: an outage of it (or of the
      // connection) pauses the progress, not the work. Keep polling.
      if (!Transient(s) || elapsed > FLAGS_timeout_s) {
        FinishRun(ctx, run_id, snap, true, "progress unreadable: " + s.error_message());
        return RpcError("daily: progress", s);
      }
      if (!unreachable) {
        line.Finish();
        std::cerr << "sluicectl: daily: coordinator unreachable (" << s.error_message()
                  << "); still waiting" << std::endl;
      }
      unreachable = true;
      empty_seen = 0;
      continue;
    }
    if (unreachable && !ctx.json) {
      line.Finish();
      std::cout << "coordinator reachable again" << std::endl;
    }
    unreachable = false;
    const int64_t synced = snap.entities["alliance"].second + snap.entities["corporation"].second +
                           snap.entities["character"].second;
    meter.Add(elapsed, synced, snap.pending);
    if (!ctx.json) {
      // What the run waits for, asked every few seconds (a listing walks
      // every budget).
      if (elapsed - asked_at >= 5) {
        waiting = WaitingFor(ctx, "esi/");  // the daily sequence calls ESI only
        asked_at = elapsed;
      }
      std::string pending;
      for (const auto& [k, n] : snap.pending_by_kind) pending += " " + k + "=" + std::to_string(n);
      char head[160];
      std::snprintf(head, sizeof head,
                    "[%s] %d%% | synced: alliances %lld, corporations %lld, characters %lld | "
                    "%.0f/s",
                    FormatDuration(elapsed).c_str(), meter.Percent(),
                    static_cast<long long>(snap.entities["alliance"].second),
                    static_cast<long long>(snap.entities["corporation"].second),
                    static_cast<long long>(snap.entities["character"].second), meter.Rate());
      std::string text = head;
      if (auto eta = meter.EtaSeconds()) text += ", ETA " + FormatDuration(*eta);
      text += " | pending" + (pending.empty() ? std::string(" none") : pending);
      if (snap.dead) text += " | dead " + std::to_string(snap.dead);
      if (!waiting.empty()) text += " | waiting: " + waiting;
      line.Show(elapsed, text, waiting);
    }
    empty_seen = snap.pending == 0 ? empty_seen + 1 : 0;
    if (empty_seen >= 2) break;
    if (elapsed > FLAGS_timeout_s) {
      line.Finish();
      const std::string why = "still " + std::to_string(snap.pending) +
                              " task(s) pending after " + std::to_string(FLAGS_timeout_s) + "s";
      std::cerr << "sluicectl: daily: " << why << std::endl;
      FinishRun(ctx, run_id, snap, true, why);
      return 1;
    }
  }
  line.Finish();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const bool recorded = FinishRun(ctx, run_id, snap, false, "");
  nlohmann::json summary = {
      {"run_id", run_id}, {"elapsed_seconds", elapsed}, {"dead_tasks", snap.dead}};
  for (const auto& [kind, c] : snap.entities) {
    summary["entities"][kind] = {{"total", c.first}, {"refreshed", c.second}};
  }
  if (ctx.json) {
    PrintJson(summary);
  } else {
    std::printf("daily sequence done in %.1fs (run %s)\n", elapsed, run_id.c_str());
    for (const auto& [kind, c] : snap.entities) {
      std::printf("  %-12s %8lld refreshed, %8lld stored\n", kind.c_str(),
                  static_cast<long long>(c.second), static_cast<long long>(c.first));
    }
    std::printf("  dead tasks   %8lld\n", static_cast<long long>(snap.dead));
  }
  return recorded ? 0 : 1;
}

}  // namespace sluice::cli
