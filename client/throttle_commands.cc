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
  std::snprintf(buf, sizeof(buf), "%.0fs",
                std::chrono::duration<double>(FromProtoDuration(d)).count());
  return buf;
}

nlohmann::json BudgetJson(const v1::Budget& b, TimePoint now) {
  nlohmann::json windows = nlohmann::json::array();
  for (const auto& w : b.windows()) {
    windows.push_back({{"limit", w.limit()},
                       {"period_seconds", FromProtoDuration(w.period()).count() / 1e9},
                       {"remaining", w.remaining()}});
  }
  const double restricted_for =
      std::max(0.0, std::chrono::duration<double>(FromProto(b.restricted_until()) - now).count());
  return {{"name", b.name()},
          {"family", b.family()},
          {"scope", b.scope()},
          {"learned", b.learned()},
          {"windows", windows},
          {"restricted_for_seconds", restricted_for},
          {"restriction_reason", b.restriction_reason()},
          {"restricted_by", b.restricted_by()},
          {"restriction_capped", b.restriction_capped()},
          {"restriction_cleared_by", b.restriction_cleared_by()},
          {"restriction_cleared_at", b.restriction_cleared_by().empty()
                                         ? ""
                                         : FormatRfc3339(FromProto(b.restriction_cleared_at()))},
          {"tightened_by", b.tightened_by()},
          {"tightened_until",
           b.tightened_by().empty() ? "" : FormatRfc3339(FromProto(b.tightened_until()))},
          {"granted", b.granted()},
          {"denied", b.denied()},
          {"waits", b.waits()},
          {"restrictions", b.restrictions()},
          {"outstanding_tokens", b.outstanding_tokens()},
          {"routes", b.routes()}};
}

// "12/30 per 900s" and "restricted 40s (429 on ...)" / "".
std::string Room(const v1::Budget& b) {
  if (b.windows().empty()) return "-";
  return std::to_string(b.windows(0).remaining()) + "/" + std::to_string(b.windows(0).limit()) +
         " per " + Seconds(b.windows(0).period());
}

// "restricted 40s: 429 on ... (by ipv4:10.0.0.9:5000, capped)", or
// "tightened 40s by team-x" for another caller's headers, or the last clear,
// or "".
std::string Restriction(const v1::Budget& b, TimePoint now) {
  const double left = std::chrono::duration<double>(FromProto(b.restricted_until()) - now).count();
  std::string tightened;
  if (!b.tightened_by().empty()) {
    const double t = std::chrono::duration<double>(FromProto(b.tightened_until()) - now).count();
    if (t > 0) {
      tightened =
          "tightened " + std::to_string(static_cast<int>(t + 0.5)) + "s by " + b.tightened_by();
    }
  }
  if (left <= 0) {
    if (!tightened.empty()) return tightened;
    if (b.restriction_cleared_by().empty()) return "";
    return "cleared by " + b.restriction_cleared_by() + " at " +
           FormatRfc3339(FromProto(b.restriction_cleared_at()));
  }
  std::string out =
      "restricted " + std::to_string(static_cast<int>(left + 0.5)) + "s: " + b.restriction_reason();
  if (!b.restricted_by().empty()) {
    out += " (by " + b.restricted_by() + (b.restriction_capped() ? ", capped)" : ")");
  }
  if (!tightened.empty()) out += "; " + tightened;
  return out;
}

// sluicectl throttle clear BUDGET: lifts the budget's restriction and its
// escalated backoff (operator role); the coordinator records who.
int CmdThrottleClear(Context& ctx) {
  if (ctx.args.size() != 2) {
    return UsageError("usage: sluicectl throttle clear BUDGET   (a budget's full name)");
  }
  auto stub = v1::ThrottlerService::NewStub(ctx.channel);
  v1::ClearRestrictionRequest req;
  req.set_budget(ctx.args[1]);
  v1::ClearRestrictionResponse resp;
  grpc::ClientContext call;
  Prepare(ctx, &call);
  grpc::Status s = stub->ClearRestriction(&call, req, &resp);
  if (!s.ok()) return RpcError("throttle clear", s);
  const std::string was_by =
      resp.was_restricted_by().empty() ? "the upstream" : resp.was_restricted_by();
  if (ctx.json) {
    PrintJson(
        {{"budget", req.budget()},
         {"was_restricted", resp.was_restricted()},
         {"was_until", resp.was_restricted() ? FormatRfc3339(FromProto(resp.was_until())) : ""},
         {"was_restricted_by", resp.was_restricted_by()},
         {"was_backoff_level", resp.was_backoff_level()},
         {"was_tightened_by", resp.was_tightened_by()}});
    return 0;
  }
  if (!resp.was_tightened_by().empty()) {
    std::printf("%s: tightening by %s's headers lifted\n", req.budget().c_str(),
                resp.was_tightened_by().c_str());
  }
  if (resp.was_restricted()) {
    std::printf("%s: restriction until %s (set by %s) lifted; backoff level %d reset\n",
                req.budget().c_str(), FormatRfc3339(FromProto(resp.was_until())).c_str(),
                was_by.c_str(), resp.was_backoff_level());
  } else {
    std::printf("%s: not restricted; backoff level %d reset\n", req.budget().c_str(),
                resp.was_backoff_level());
  }
  return 0;
}

}  // namespace

// sluicectl throttle [MATCH]: every budget family (an allowance across all the
// callers it bills) with its most constrained budget; with MATCH, the
// budgets whose name starts with it or whose scope is it ("char:90000001").
int CmdThrottle(Context& ctx) {
  if (!ctx.args.empty() && ctx.args[0] == "clear") return CmdThrottleClear(ctx);
  if (ctx.args.size() > 1) {
    return UsageError(
        "usage: sluicectl throttle [MATCH]   (a budget name prefix or a scope)\n"
        "       sluicectl throttle clear BUDGET");
  }
  auto stub = v1::ThrottlerService::NewStub(ctx.channel);
  v1::ListBudgetsRequest req;
  if (!ctx.args.empty()) req.set_match(ctx.args[0]);
  req.set_top(ctx.args.empty() ? 1 : 100);
  v1::ListBudgetsResponse resp;
  grpc::ClientContext call;
  Prepare(ctx, &call);
  grpc::Status s = stub->ListBudgets(&call, req, &resp);
  if (!s.ok()) return RpcError("throttle", s);
  const TimePoint now = FromProto(resp.now());
  if (ctx.json) {
    nlohmann::json families = nlohmann::json::array();
    for (const auto& f : resp.families()) {
      nlohmann::json worst = nlohmann::json::array();
      for (const auto& b : f.most_constrained()) worst.push_back(BudgetJson(b, now));
      families.push_back({{"name", f.name()},
                          {"kind", f.kind()},
                          {"budgets", f.budgets()},
                          {"restricted", f.restricted()},
                          {"exhausted", f.exhausted()},
                          {"granted", f.granted()},
                          {"denied", f.denied()},
                          {"waits", f.waits()},
                          {"restrictions", f.restrictions()},
                          {"routes", f.routes()},
                          {"most_constrained", worst}});
    }
    nlohmann::json budgets = nlohmann::json::array();
    for (const auto& b : resp.budgets()) budgets.push_back(BudgetJson(b, now));
    nlohmann::json callers = nlohmann::json::array();
    for (const auto& c : resp.callers()) {
      callers.push_back({{"name", c.name()},
                         {"next_permitted", c.next_permitted()},
                         {"acquire_granted", c.acquire_granted()},
                         {"acquire_refused", c.acquire_refused()},
                         {"reports", c.reports()},
                         {"denied", c.denied()}});
    }
    PrintJson({{"families", families},
               {"budgets", budgets},
               {"total_budgets", resp.total_budgets()},
               {"callers", callers}});
    return 0;
  }
  if (ctx.args.empty()) {
    std::printf("%-40s %7s %10s %9s %9s %7s %5s  %s\n", "FAMILY", "CALLERS", "RESTRICTED",
                "EXHAUSTED", "GRANTED", "DENIED", "429s", "MOST CONSTRAINED");
    for (const auto& f : resp.families()) {
      std::string worst = "-";
      if (!f.most_constrained().empty()) {
        const v1::Budget& b = f.most_constrained(0);
        worst = (b.scope().empty() ? std::string("(route)") : b.scope()) + " " + Room(b);
        const std::string r = Restriction(b, now);
        if (!r.empty()) worst += ", " + r;
        if (!b.learned()) worst += " (default)";
      }
      std::printf("%-40s %7lld %10lld %9lld %9lld %7lld %5lld  %s\n", f.name().c_str(),
                  static_cast<long long>(f.budgets()), static_cast<long long>(f.restricted()),
                  static_cast<long long>(f.exhausted()), static_cast<long long>(f.granted()),
                  static_cast<long long>(f.denied()), static_cast<long long>(f.restrictions()),
                  worst.c_str());
    }
    if (resp.families().empty()) std::printf("(no budgets yet: nothing has been called)\n");
    if (!resp.callers().empty()) {
      // Per credential (teams): the decisions each asked for.
      std::printf("\n%-32s %14s %9s %9s %8s %7s\n", "CALLER", "NEXT PERMITTED", "GRANTED",
                  "REFUSED", "REPORTS", "DENIED");
      for (const auto& c : resp.callers()) {
        std::printf("%-32s %14lld %9lld %9lld %8lld %7lld\n", c.name().c_str(),
                    static_cast<long long>(c.next_permitted()),
                    static_cast<long long>(c.acquire_granted()),
                    static_cast<long long>(c.acquire_refused()),
                    static_cast<long long>(c.reports()), static_cast<long long>(c.denied()));
      }
    }
    std::printf(
        "%lld budgets; `sluicectl throttle MATCH` lists the budgets of one family, "
        "character (char:ID) or address (ip:ADDR)\n",
        static_cast<long long>(resp.total_budgets()));
    return 0;
  }
  std::printf("%-60s %-8s %-22s %9s %7s %7s  %s\n", "BUDGET", "LEARNED", "ROOM", "GRANTED",
              "DENIED", "WAITS", "RESTRICTION");
  for (const auto& b : resp.budgets()) {
    std::printf("%-60s %-8s %-22s %9lld %7lld %7lld  %s\n", b.name().c_str(),
                b.learned() ? "yes" : "default", Room(b).c_str(),
                static_cast<long long>(b.granted()), static_cast<long long>(b.denied()),
                static_cast<long long>(b.waits()), Restriction(b, now).c_str());
  }
  if (resp.budgets().empty()) std::printf("(no budget matches '%s')\n", ctx.args[0].c_str());
  return 0;
}

int CmdNext(Context& ctx) {
  if (ctx.args.size() < 2 || ctx.args.size() > 4) {
    return UsageError(
        "usage: sluicectl next UPSTREAM ROUTE [CALLER [EGRESS]]   (e.g. next esi "
        "/characters/{id}/killmails/recent/ char:90000001)");
  }
  auto stub = v1::ThrottlerService::NewStub(ctx.channel);
  v1::NextPermittedRequest req;
  req.mutable_route()->set_upstream(ctx.args[0]);
  req.mutable_route()->set_route(ctx.args[1]);
  if (ctx.args.size() > 2) req.mutable_route()->set_caller(ctx.args[2]);
  if (ctx.args.size() > 3) req.mutable_route()->set_egress(ctx.args[3]);
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
