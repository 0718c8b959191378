#include "server/service/admin_service.h"

#include "common/grpc_status.h"
#include "common/time_util.h"
#include "server/service/wire.h"
#include "server/workflows/esi/daily_esi_job.h"

namespace sluice {

grpc::Status AdminServiceImpl::Enqueue(grpc::ServerContext* ctx, const v1::EnqueueRequest* req,
                                       v1::EnqueueResponse* resp) {
  if (auto s = auth_->Check(ctx); !s.ok()) return s;
  Priority priority;
  if (auto s = PriorityFromWire(req->priority(), "priority", &priority); !s.ok()) return s;
  auto out = queue_->Enqueue(req->kind(), {req->ids().begin(), req->ids().end()}, priority);
  if (!out.ok()) return ToGrpcStatus(out.status());
  resp->set_enqueued(out->enqueued);
  resp->set_already_queued(out->already_queued);
  resp->set_waiting_for_expires(out->waiting_for_expires);
  resp->set_answered_from_database(out->answered_from_database);
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::QueueStatus(grpc::ServerContext* ctx,
                                           const v1::QueueStatusRequest* req,
                                           v1::QueueStatusResponse* resp) {
  if (auto s = auth_->Check(ctx); !s.ok()) return s;
  auto stats = queue_->Stats();
  if (!stats.ok()) return ToGrpcStatus(stats.status());
  for (const KindStats& k : *stats) {
    v1::KindStatus* out = resp->add_kinds();
    out->set_kind(k.kind);
    out->set_ready(k.ready);
    out->set_leased(k.leased);
    out->set_retrying(k.retrying);
    out->set_oldest_age_seconds(k.oldest_age_seconds);
    out->set_dead(k.dead);
    for (const auto& [agent, n] : k.agents) {
      v1::AgentLeases* a = out->add_agents();
      a->set_agent_id(agent);
      a->set_leased(n);
    }
  }
  *resp->mutable_now() = ToProto(clock_->Now());
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::StartDaily(grpc::ServerContext* ctx,
                                          const v1::StartDailyRequest* req,
                                          v1::StartDailyResponse* resp) {
  if (auto s = auth_->Check(ctx); !s.ok()) return s;
  // The daily sequence is background work unless the caller says otherwise.
  Priority priority = Priority::kBackground;
  if (req->priority() != v1::PRIORITY_CLASS_UNSPECIFIED) {
    if (auto s = PriorityFromWire(req->priority(), "priority", &priority); !s.ok()) return s;
  }
  absl::StatusOr<std::string> run_id = scheduler_->NewDrivenRunId(kDailyJob);
  if (!run_id.ok()) return ToGrpcStatus(run_id.status());
  const TimePoint started = clock_->Now();
  absl::StatusOr<int64_t> queued =
      scheduler_->OpenDrivenRun(*run_id, kDailyJob, started, [&]() -> absl::StatusOr<int64_t> {
        auto n = StartDailySequence(queue_, req->include_characters(), priority, *run_id);
        if (!n.ok()) return n.status();
        return *n;
      });
  if (!queued.ok()) return ToGrpcStatus(queued.status());
  resp->set_tasks_queued(*queued);
  *resp->mutable_started_at() = ToProto(started);
  resp->set_run_id(*run_id);
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::FinishDaily(grpc::ServerContext* ctx,
                                           const v1::FinishDailyRequest* req,
                                           v1::FinishDailyResponse* resp) {
  if (auto s = auth_->Check(ctx); !s.ok()) return s;
  if (req->run_id().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "run_id is required");
  }
  if (req->rows_upserted() < 0 || req->errors() < 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "rows_upserted and errors must not be negative");
  }
  JobCounters counters;
  counters.rows_upserted = req->rows_upserted();
  counters.errors = req->errors();
  absl::StatusOr<TimePoint> finished = scheduler_->CloseDrivenRun(
      req->run_id(), kDailyJob, req->failed(), counters, req->detail());
  if (!finished.ok()) return ToGrpcStatus(finished.status());
  resp->set_outcome(req->failed() ? kOutcomeFailed : kOutcomeSucceeded);
  *resp->mutable_finished_at() = ToProto(*finished);
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::EntityCounts(grpc::ServerContext* ctx,
                                            const v1::EntityCountsRequest* req,
                                            v1::EntityCountsResponse* resp) {
  if (auto s = auth_->Check(ctx); !s.ok()) return s;
  std::optional<TimePoint> since;
  if (req->has_since()) since = FromProto(req->since());
  auto counts = queue_->EntityCounts(since);
  if (!counts.ok()) return ToGrpcStatus(counts.status());
  for (const auto& c : *counts) {
    v1::EntityCount* out = resp->add_counts();
    out->set_kind(c.kind);
    out->set_count(c.count);
    out->set_refreshed_since(c.refreshed_since);
  }
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::Migrate(grpc::ServerContext* ctx, const v1::MigrateRequest* req,
                                       v1::MigrateResponse* resp) {
  if (auto s = auth_->Check(ctx); !s.ok()) return s;
  auto result = migrator_->Apply();
  if (!result.ok()) return ToGrpcStatus(result.status());
  for (const auto& name : result->applied) resp->add_applied(name);
  resp->set_current_version(result->current_version);
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::ListJobRuns(grpc::ServerContext* ctx,
                                           const v1::ListJobRunsRequest* req,
                                           v1::ListJobRunsResponse* resp) {
  if (auto s = auth_->Check(ctx); !s.ok()) return s;
  auto runs = scheduler_->ListRuns(req->job(), req->limit());
  if (!runs.ok()) return ToGrpcStatus(runs.status());
  for (const JobRunRow& r : *runs) {
    v1::JobRun* out = resp->add_runs();
    out->set_run_id(r.run_id);
    out->set_job(r.job);
    *out->mutable_started_at() = ToProto(r.started_at);
    if (r.finished_at) *out->mutable_finished_at() = ToProto(*r.finished_at);
    out->set_outcome(r.outcome);
    out->set_tasks_queued(r.counters.tasks_queued);
    out->set_upstream_calls(r.counters.upstream_calls);
    out->set_rows_upserted(r.counters.rows_upserted);
    out->set_cache_hits(r.counters.cache_hits);
    out->set_cache_misses(r.counters.cache_misses);
    out->set_errors(r.counters.errors);
    out->set_detail(r.detail);
  }
  for (const JobStatus& j : scheduler_->Jobs()) {
    if (!req->job().empty() && j.name != req->job()) continue;
    v1::JobInfo* out = resp->add_jobs();
    out->set_name(j.name);
    *out->mutable_interval() = ToProtoDuration(j.interval);
    if (j.next_run_at) *out->mutable_next_run_at() = ToProto(*j.next_run_at);
    out->set_running_run_id(j.running_run_id);
    out->set_skipped_fail_closed(j.skipped_fail_closed);
    out->set_last_fail_closed_run_id(j.last_fail_closed_run_id);
  }
  *resp->mutable_now() = ToProto(clock_->Now());
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::RunJob(grpc::ServerContext* ctx, const v1::RunJobRequest* req,
                                      v1::RunJobResponse* resp) {
  if (auto s = auth_->Check(ctx); !s.ok()) return s;
  auto run_id = scheduler_->RunNow(req->name());
  if (!run_id.ok()) return ToGrpcStatus(run_id.status());
  resp->set_run_id(*run_id);
  return grpc::Status::OK;
}

}  // namespace sluice
