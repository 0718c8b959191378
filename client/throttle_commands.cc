// sluicectl throttle / next: the global throttler's budgets, and the next
// permitted time of a route (what other teams ask).
#include <cstdio>
#include <iostream>

#include "client/cli.h"
#include "common/time_util.h"
#include "sluice/v1/throttle.grpc.pb.h"

namespace sluice::cli {
namespace {

std::string Seconds(const google::protobuf::Duration& d) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.0fs", std::chrono::duration<double>(FromProtoDuration(d)).count());
  return buf;
}

}  // namespace

int CmdThrottle(Context& ctx) {
  auto stub = v1::ThrottlerService::NewStub(ctx.channel);
  v1::ListBudgetsResponse resp;
  grpc::ClientContext call;
  Prepare(ctx, &call);
  grpc::Status s = stub->ListBudgets(&call, v1::ListBudgetsRequest(), &resp);
  if (!s.ok()) return RpcError("throttle", s);
  const TimePoint now = FromProto(resp.now());
  if (ctx.json) {
    nlohmann::json budgets = nlohmann::json::array();
    for (const auto& b : resp.budgets()) {
      nlohmann::json windows = nlohmann::json::array();
      for (const auto& w : b.windows()) {
        windows.push_back({{"limit", w.limit()},
                           {"period_seconds", FromProtoDuration(w.period()).count() / 1e9},
                           {"remaining", w.remaining()}});
      }
      const double restricted_for =
          std::max(0.0, std::chrono::duration<double>(FromProto(b.restricted_until()) - now).count());
      budgets.push_back({{"name", b.name()},
                         {"learned", b.learned()},
                         {"windows", windows},
                         {"restricted_for_seconds", restricted_for},
                         {"granted", b.granted()},
                         {"denied", b.denied()},
                         {"waits", b.waits()},
                         {"restrictions", b.restrictions()},
                         {"outstanding_tokens", b.outstanding_tokens()},
                         {"routes", b.routes()}});
    }
    PrintJson({{"budgets", budgets}});
    return 0;
  }
  std::printf("%-44s %-8s %-14s %9s %11s %9s %7s %7s %6s\n", "BUDGET", "LEARNED", "LIMIT",
              "REMAINING", "RESTRICTED", "GRANTED", "DENIED", "WAITS", "429s");
  for (const auto& b : resp.budgets()) {
    std::string limit = "-", remaining = "-";
    if (!b.windows().empty()) {
      limit = std::to_string(b.windows(0).limit()) + "/" + Seconds(b.windows(0).period());
      remaining = std::to_string(b.windows(0).remaining());
    }
    const double restricted_for =
        std::chrono::duration<double>(FromProto(b.restricted_until()) - now).count();
    std::string restricted = restricted_for > 0 ? std::to_string(static_cast<int>(restricted_for + 0.5)) + "s" : "no";
    std::printf("%-44s %-8s %-14s %9s %11s %9lld %7lld %7lld %6lld\n", b.name().c_str(),
                b.learned() ? "yes" : "default", limit.c_str(), remaining.c_str(), restricted.c_str(),
                static_cast<long long>(b.granted()), static_cast<long long>(b.denied()),
                static_cast<long long>(b.waits()), static_cast<long long>(b.restrictions()));
  }
  if (resp.budgets().empty()) std::printf("(no budgets yet: nothing has been called)\n");
  return 0;
}

int CmdNext(Context& ctx) {
  if (ctx.args.size() != 2) return UsageError("usage: sluicectl next UPSTREAM ROUTE   (e.g. next esi /characters/{id}/)");
  auto stub = v1::ThrottlerService::NewStub(ctx.channel);
  v1::NextPermittedRequest req;
  req.mutable_route()->set_upstream(ctx.args[0]);
  req.mutable_route()->set_route(ctx.args[1]);
  req.set_n(1);
  v1::NextPermittedResponse resp;
  grpc::ClientContext call;
  Prepare(ctx, &call);
  grpc::Status s = stub->NextPermitted(&call, req, &resp);
  if (!s.ok()) return RpcError("next", s);
  const double wait = std::chrono::duration<double>(FromProtoDuration(resp.wait())).count();
  if (ctx.json) {
    PrintJson({{"at", FormatRfc3339(FromProto(resp.at()))},
               {"wait_seconds", wait},
               {"limiting_budget", resp.limiting_budget()}});
  } else {
    std::printf("next permitted at %s (in %.3fs), limited by %s\n",
                FormatRfc3339(FromProto(resp.at())).c_str(), wait, resp.limiting_budget().c_str());
  }
  return 0;
}

}  // namespace sluice::cli
