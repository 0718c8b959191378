#include "server/queue/completion_plan.h"

#include <set>
#include <tuple>

namespace sluice {
namespace {

absl::Status StaleToken(int64_t task_id, int64_t token) {
  return absl::FailedPreconditionError(
      "task " + std::to_string(task_id) + " is not leased with fencing token " +
      std::to_string(token) + " (the lease expired and was re-leased, or the task is done)");
}

}  // namespace

CompletionPlan::CompletionPlan(const std::vector<const Completion*>& batch,
                               std::vector<LockedTask> locked, const TaskKindRegistry& kinds,
                               const std::function<bool(const std::string& kind)>& has_extension)
    : batch_(batch),
      kinds_(kinds),
      locked_(std::move(locked)),
      payloads_(batch.size()),
      results_(batch.size(), CompletionOutcome{}),
      effective_(batch.size()),
      priority_(batch.size(), 0),
      run_ref_(batch.size(), 0) {
  std::map<std::pair<int64_t, int64_t>, const LockedTask*> by_token;
  for (const LockedTask& t : locked_) by_token[{t.task_id, t.fencing_token}] = &t;
  std::set<int64_t> seen;
  for (size_t i = 0; i < batch_.size(); ++i) {
    const Completion& c = *batch_[i];
    auto it = by_token.find({c.task_id, c.fencing_token});
    // A task completed twice in one batch: the second is as stale as a
    // completion behind a newer lease.
    if (it == by_token.end() || !seen.insert(c.task_id).second) {
      results_[i] = StaleToken(c.task_id, c.fencing_token);
      continue;
    }
    const LockedTask* t = it->second;
    const TaskKind* kind = kinds_.Find(t->kind);
    if (kind == nullptr) {
      results_[i] = absl::InternalError("queued task has unknown kind " + t->kind);
      continue;
    }
    const bool extension = has_extension(t->kind);
    if (!extension && c.payload.has_value()) {
      results_[i] =
          absl::InvalidArgumentError("payload: a '" + t->kind + "' task carries no payload");
      continue;
    }
    admitted_.push_back(Admitted{i, t, kind, extension});
  }
}

void CompletionPlan::SetPayloadOutcome(size_t index, absl::StatusOr<PayloadOutcome> outcome) {
  payloads_[index] = std::move(outcome);
}

void CompletionPlan::Finish(TimePoint now) {
  // (kind, priority, force, run) -> index into discoveries_.
  std::map<std::tuple<std::string, int, bool, int64_t>, size_t> groups;
  for (const Admitted& a : admitted_) {
    const Completion& c = *batch_[a.index];
    const LockedTask& t = *a.task;
    std::optional<Duration> requeue_after;
    std::vector<Discovery> payload_discovered;
    if (a.has_extension) {
      const auto& applied = payloads_[a.index];
      if (!applied.has_value()) {
        results_[a.index] = absl::InternalError("payload of task " + std::to_string(c.task_id) +
                                                " was never applied");
        continue;
      }
      if (!applied->ok()) {
        results_[a.index] = applied->status();
        continue;
      }
      const PayloadOutcome& out = **applied;
      if (!out.rejection.ok()) {
        // Refused, but its audit writes and the requeue commit.
        results_[a.index] = out.rejection;
        if (out.requeue_after.has_value()) {
          requeued_.push_back(Requeue{c.task_id, t.kind, now + *out.requeue_after});
        }
        continue;
      }
      results_[a.index]->records_written += out.records_written;
      requeue_after = out.requeue_after;
      payload_discovered = out.discovered;
    }
    if (c.not_modified && !a.kind->entity_table.empty()) {
      touched_[a.kind].push_back(t.entity_id);
    }
    if (!a.kind->entity_table.empty() && t.weight > 1) {
      access_carry_.push_back(AccessCarry{a.kind, t.entity_id, t.weight - 1});
    }
    // A 304 has no body: replay what the last full answer discovered.
    priority_[a.index] = t.priority;
    run_ref_[a.index] = t.run_ref;
    std::vector<Discovery>& effective = effective_[a.index];
    effective = c.not_modified && c.discovered.empty() ? t.last_discovered : c.discovered;
    effective.insert(effective.end(), payload_discovered.begin(), payload_discovered.end());
    CacheEntry entry{t.kind, t.entity_id, c.etag, c.expires, std::nullopt};
    if (!c.not_modified) entry.discovered = c.discovered;
    cache_.push_back(std::move(entry));
    for (const Discovery& d : effective) {
      if (kinds_.Find(d.kind) == nullptr || d.ids.empty()) continue;  // validated upstream
      auto [it, inserted] = groups.emplace(std::make_tuple(d.kind, t.priority, d.force, t.run_ref),
                                           discoveries_.size());
      if (inserted) discoveries_.push_back(DiscoveryGroup{d.kind, t.priority, d.force, t.run_ref});
      DiscoveryGroup& group = discoveries_[it->second];
      group.forced_fresh_after = std::min(group.forced_fresh_after, t.enqueued_at);
      group.ids.insert(group.ids.end(), d.ids.begin(), d.ids.end());
    }
    if (requeue_after.has_value()) {
      requeued_.push_back(Requeue{c.task_id, t.kind, now + *requeue_after});
      results_[a.index]->requeued_now = *requeue_after <= Duration::zero();
    } else {
      done_.push_back(c.task_id);
    }
  }
}

void CompletionPlan::CreditQueued(size_t group, int inserted) {
  if (inserted <= 0 || group >= discoveries_.size()) return;
  const DiscoveryGroup& g = discoveries_[group];
  for (size_t i = 0; i < batch_.size(); ++i) {
    if (!results_[i].ok() || priority_[i] != g.priority || run_ref_[i] != g.run_ref) continue;
    for (const Discovery& d : effective_[i]) {
      if (d.kind == g.kind && d.force == g.force) {
        results_[i]->tasks_queued += inserted;
        return;
      }
    }
  }
}

}  // namespace sluice
