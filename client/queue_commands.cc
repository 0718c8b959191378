// sluicectl enqueue / status.
#include <gflags/gflags.h>

#include <cstdio>
#include <iostream>

#include "client/cli.h"

DEFINE_string(priority, "manual", "enqueue priority class: user | manual | background");

namespace sluice::cli {
namespace {

bool ParsePriority(const std::string& s, v1::PriorityClass* out) {
  if (s == "user")
    *out = v1::PRIORITY_CLASS_USER;
  else if (s == "manual")
    *out = v1::PRIORITY_CLASS_MANUAL;
  else if (s == "background")
    *out = v1::PRIORITY_CLASS_BACKGROUND;
  else
    return false;
  return true;
}

}  // namespace

int CmdEnqueue(Context& ctx) {
  if (ctx.args.empty()) return UsageError("usage: sluicectl enqueue KIND [IDS...]");
  v1::EnqueueRequest req;
  req.set_kind(ctx.args[0]);
  v1::PriorityClass priority;
  if (!ParsePriority(FLAGS_priority, &priority)) {
    return UsageError("--priority must be user, manual or background, got '" + FLAGS_priority +
                      "'");
  }
  req.set_priority(priority);
  for (size_t i = 1; i < ctx.args.size(); ++i) {
    try {
      size_t used = 0;
      long long id = std::stoll(ctx.args[i], &used);
      if (used != ctx.args[i].size()) throw std::invalid_argument("trailing characters");
      req.add_ids(id);
    } catch (const std::exception&) {
      return UsageError("'" + ctx.args[i] + "' is not an id");
    }
  }
  if (req.ids().empty()) req.add_ids(0);  // list tasks such as alliance_ids
  v1::EnqueueResponse resp;
  grpc::ClientContext call;
  Prepare(ctx, &call);
  grpc::Status s = ctx.admin->Enqueue(&call, req, &resp);
  if (!s.ok()) return RpcError("enqueue", s);
  if (ctx.json) {
    PrintJson({{"kind", req.kind()},
               {"enqueued", resp.enqueued()},
               {"already_queued", resp.already_queued()},
               {"waiting_for_expires", resp.waiting_for_expires()},
               {"answered_from_database", resp.answered_from_database()}});
  } else {
    std::cout << "queued " << resp.enqueued() << " new " << req.kind() << " task(s), "
              << resp.already_queued() << " already queued";
    if (resp.waiting_for_expires() > 0) {
      std::cout << ", " << resp.waiting_for_expires() << " waiting for their Expires";
    }
    if (resp.answered_from_database() > 0) {
      std::cout << ", " << resp.answered_from_database()
                << " fresh (answered from the database until their Expires)";
    }
    std::cout << std::endl;
  }
  return 0;
}

int CmdStatus(Context& ctx) {
  v1::QueueStatusResponse resp;
  grpc::ClientContext call;
  Prepare(ctx, &call);
  grpc::Status s = ctx.admin->QueueStatus(&call, v1::QueueStatusRequest(), &resp);
  if (!s.ok()) return RpcError("status", s);
  if (ctx.json) {
    nlohmann::json kinds = nlohmann::json::array();
    for (const auto& k : resp.kinds()) {
      nlohmann::json agents = nlohmann::json::object();
      for (const auto& a : k.agents()) agents[a.agent_id()] = a.leased();
      kinds.push_back({{"kind", k.kind()},
                       {"ready", k.ready()},
                       {"leased", k.leased()},
                       {"retrying", k.retrying()},
                       {"dead", k.dead()},
                       {"oldest_age_seconds", k.oldest_age_seconds()},
                       {"agents", agents}});
    }
    PrintJson({{"kinds", kinds}});
    return 0;
  }
  std::printf("%-24s %10s %10s %10s %8s %12s  %s\n", "KIND", "READY", "LEASED", "RETRYING", "DEAD",
              "OLDEST_AGE", "AGENTS");
  for (const auto& k : resp.kinds()) {
    std::string agents;
    for (const auto& a : k.agents()) {
      if (!agents.empty()) agents += ", ";
      agents += a.agent_id() + "=" + std::to_string(a.leased());
    }
    std::printf("%-24s %10lld %10lld %10lld %8lld %11.0fs  %s\n", k.kind().c_str(),
                static_cast<long long>(k.ready()), static_cast<long long>(k.leased()),
                static_cast<long long>(k.retrying()), static_cast<long long>(k.dead()),
                k.oldest_age_seconds(), agents.c_str());
  }
  if (resp.kinds().empty()) std::printf("(queue empty)\n");
  return 0;
}

int CmdEntities(Context& ctx) {
  v1::EntityCountsResponse resp;
  grpc::ClientContext call;
  Prepare(ctx, &call);
  grpc::Status s = ctx.admin->EntityCounts(&call, v1::EntityCountsRequest(), &resp);
  if (!s.ok()) return RpcError("entities", s);
  if (ctx.json) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& c : resp.counts()) rows.push_back({{"kind", c.kind()}, {"count", c.count()}});
    PrintJson({{"entities", rows}});
    return 0;
  }
  for (const auto& c : resp.counts()) {
    std::printf("%-14s %10lld\n", c.kind().c_str(), static_cast<long long>(c.count()));
  }
  return 0;
}

}  // namespace sluice::cli
