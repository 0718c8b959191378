// sluicectl checkpoints / ingest / alerts: the cursor streams' checkpoints,
// poe_ingest_status and the stream alerts (StreamService).
#include <gflags/gflags.h>

#include <cstdio>

#include "client/cli.h"
#include "common/time_util.h"
#include "sluice/v1/streams.grpc.pb.h"

DEFINE_int32(alerts_history, 20, "alerts: recent firing/resolved events to show (max 1000)");

namespace sluice::cli {
namespace {

std::string Span(double seconds) {
  char buf[32];
  if (seconds < 120) {
    std::snprintf(buf, sizeof(buf), "%.0fs", seconds);
  } else if (seconds < 2 * 3600) {
    std::snprintf(buf, sizeof(buf), "%.1fm", seconds / 60);
  } else {
    std::snprintf(buf, sizeof(buf), "%.1fh", seconds / 3600);
  }
  return buf;
}

std::string Rfc(const google::protobuf::Timestamp& ts) { return FormatRfc3339(FromProto(ts)); }
std::string Short(const google::protobuf::Timestamp& ts) { return Rfc(ts).substr(0, 19) + "Z"; }

// "12s ago", or "-" when unset.
std::string Ago(bool has, const google::protobuf::Timestamp& ts, TimePoint now) {
  if (!has) return "-";
  return Span(std::max(0.0, std::chrono::duration<double>(now - FromProto(ts)).count())) + " ago";
}

nlohmann::json OptTs(bool has, const google::protobuf::Timestamp& ts) {
  return has ? nlohmann::json(Rfc(ts)) : nlohmann::json();
}

std::unique_ptr<v1::StreamService::Stub> Stub(Context& ctx) {
  return v1::StreamService::NewStub(ctx.channel);
}

}  // namespace

int CmdCheckpoints(Context& ctx) {
  if (ctx.args.size() > 1) return UsageError("checkpoints takes at most one argument: PREFIX");
  v1::ListCheckpointsRequest req;
  if (!ctx.args.empty()) req.set_prefix(ctx.args[0]);
  v1::ListCheckpointsResponse resp;
  grpc::ClientContext call;
  Prepare(ctx, &call);
  grpc::Status s = Stub(ctx)->ListCheckpoints(&call, req, &resp);
  if (!s.ok()) return RpcError("checkpoints", s);
  const TimePoint now = FromProto(resp.now());
  if (ctx.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& c : resp.checkpoints()) {
      out.push_back({{"stream", c.stream()},
                     {"cursor", c.cursor()},
                     {"updated_at", Rfc(c.updated_at())},
                     {"age_seconds", c.age_seconds()},
                     {"polled_at", OptTs(c.has_polled_at(), c.polled_at())},
                     {"head_at", OptTs(c.has_head_at(), c.head_at())},
                     {"pages", c.pages()},
                     {"rows", c.rows()},
                     {"empty_polls", c.empty_polls()},
                     {"created_at", Rfc(c.created_at())}});
    }
    PrintJson({{"checkpoints", out}, {"now", Rfc(resp.now())}});
    return 0;
  }
  std::printf("%-22s %-30s %9s %11s %11s %9s %10s %8s\n", "STREAM", "CURSOR", "AGE", "POLLED",
              "AT HEAD", "PAGES", "ROWS", "EMPTY");
  for (const auto& c : resp.checkpoints()) {
    std::string cursor = c.cursor().empty() ? "(start)" : c.cursor();
    if (cursor.size() > 30) cursor = cursor.substr(0, 27) + "...";
    std::printf("%-22s %-30s %9s %11s %11s %9lld %10lld %8lld\n", c.stream().c_str(),
                cursor.c_str(), Span(c.age_seconds()).c_str(),
                Ago(c.has_polled_at(), c.polled_at(), now).c_str(),
                Ago(c.has_head_at(), c.head_at(), now).c_str(), static_cast<long long>(c.pages()),
                static_cast<long long>(c.rows()), static_cast<long long>(c.empty_polls()));
  }
  if (resp.checkpoints().empty()) std::printf("(no streams)\n");
  return 0;
}

int CmdIngest(Context& ctx) {
  if (ctx.args.size() > 1) return UsageError("ingest takes at most one argument: STREAM");
  v1::GetIngestStatusRequest req;
  if (!ctx.args.empty()) req.set_stream(ctx.args[0]);
  v1::GetIngestStatusResponse resp;
  grpc::ClientContext call;
  Prepare(ctx, &call);
  grpc::Status s = Stub(ctx)->GetIngestStatus(&call, req, &resp);
  if (!s.ok()) return RpcError("ingest", s);
  const TimePoint now = FromProto(resp.now());
  if (ctx.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : resp.streams()) {
      out.push_back({{"stream", r.stream()},
                     {"kind", r.kind()},
                     {"cursor", r.cursor()},
                     {"updated_at", Rfc(r.updated_at())},
                     {"polled_at", OptTs(r.has_polled_at(), r.polled_at())},
                     {"head_at", OptTs(r.has_head_at(), r.head_at())},
                     {"lag_seconds", r.lag_seconds()},
                     {"pages_total", r.pages_total()},
                     {"rows_total", r.rows_total()},
                     {"empty_polls_total", r.empty_polls_total()},
                     {"pages_window", r.pages_window()},
                     {"rows_window", r.rows_window()},
                     {"requests_per_min", r.requests_per_min()},
                     {"errors_window", r.errors_window()},
                     {"errors_total", r.errors_total()},
                     {"http_429_window", r.http_429_window()},
                     {"rejected_rewinds", r.rejected_rewinds()},
                     {"pending_rows", r.pending_rows()}});
    }
    PrintJson(
        {{"streams", out}, {"window_seconds", resp.window_seconds()}, {"now", Rfc(resp.now())}});
    return 0;
  }
  const std::string w = Span(resp.window_seconds());
  std::printf("%-22s %-8s %8s %9s %10s %8s %9s %7s %7s %6s %6s %8s\n", "STREAM", "KIND", "LAG",
              "POLLED", "ROWS", "REQ/MIN", ("PAGES/" + w).c_str(), ("ERR/" + w).c_str(), "ERRORS",
              ("429/" + w).c_str(), "REWIND", "PENDING");
  for (const auto& r : resp.streams()) {
    std::printf(
        "%-22s %-8s %8s %9s %10lld %8.1f %9lld %7lld %7lld %6lld %6lld %8lld\n", r.stream().c_str(),
        r.kind().c_str(), Span(r.lag_seconds()).c_str(),
        Ago(r.has_polled_at(), r.polled_at(), now).c_str(), static_cast<long long>(r.rows_total()),
        r.requests_per_min(), static_cast<long long>(r.pages_window()),
        static_cast<long long>(r.errors_window()), static_cast<long long>(r.errors_total()),
        static_cast<long long>(r.http_429_window()), static_cast<long long>(r.rejected_rewinds()),
        static_cast<long long>(r.pending_rows()));
  }
  if (resp.streams().empty()) std::printf("(no streams)\n");
  return 0;
}

int CmdAlerts(Context& ctx) {
  if (!ctx.args.empty()) return UsageError("alerts takes no arguments");
  v1::ListAlertsRequest req;
  req.set_history_limit(FLAGS_alerts_history);
  v1::ListAlertsResponse resp;
  grpc::ClientContext call;
  Prepare(ctx, &call);
  grpc::Status s = Stub(ctx)->ListAlerts(&call, req, &resp);
  if (!s.ok()) return RpcError("alerts", s);
  if (ctx.json) {
    nlohmann::json firing = nlohmann::json::array(), history = nlohmann::json::array();
    for (const auto& a : resp.firing()) {
      firing.push_back({{"rule", a.rule()},
                        {"stream", a.stream()},
                        {"message", a.message()},
                        {"since", Rfc(a.since())}});
    }
    for (const auto& e : resp.history()) {
      history.push_back({{"id", e.id()},
                         {"rule", e.rule()},
                         {"stream", e.stream()},
                         {"state", e.state()},
                         {"message", e.message()},
                         {"since", Rfc(e.since())},
                         {"at", Rfc(e.at())}});
    }
    PrintJson({{"firing", firing}, {"history", history}, {"now", Rfc(resp.now())}});
    return 0;
  }
  std::printf("FIRING (%d)\n", resp.firing_size());
  for (const auto& a : resp.firing()) {
    std::printf("  %-17s %-22s since %s  %s\n", a.rule().c_str(), a.stream().c_str(),
                Short(a.since()).c_str(), a.message().c_str());
  }
  if (resp.firing().empty()) std::printf("  (none)\n");
  std::printf("\nRECENT EVENTS\n");
  for (const auto& e : resp.history()) {
    std::printf("  %s %-8s %-17s %-22s %s\n", Short(e.at()).c_str(), e.state().c_str(),
                e.rule().c_str(), e.stream().c_str(), e.message().c_str());
  }
  if (resp.history().empty()) std::printf("  (none)\n");
  return 0;
}

}  // namespace sluice::cli
