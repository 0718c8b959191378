#include "server/service/agent_service.h"

#include <glog/logging.h>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/logging/log_context.h"
#include "common/time_util.h"
#include "server/service/wire.h"
#include "server/store/payload_codec.h"

namespace sluice {
namespace {

// The ids of a call's log lines: the calling agent and, when the call is
// about one task, the task, its lease and its job run, once known (the
// agent's lines carry the same).
logging::LogIds CallIds(const std::string& agent_id, int64_t task_id = 0, int64_t lease_id = 0,
                        const std::string& run_id = "") {
  logging::LogIds ids;
  ids.agent_id = agent_id;
  ids.task_id = task_id;
  ids.lease_id = lease_id;
  ids.run_id = run_id;
  return ids;
}

}  // namespace

grpc::Status AgentServiceImpl::LeaseTasks(grpc::ServerContext* ctx,
                                          const v1::LeaseTasksRequest* req,
                                          v1::LeaseTasksResponse* resp) {
  if (auto s = auth_->Check(ctx); !s.ok()) return s;
  logging::ScopedLogIds call_ids(CallIds(req->agent_id()));
  std::vector<std::string> kinds(req->kinds().begin(), req->kinds().end());
  // Never hold a long poll past the caller's own deadline.
  Duration wait = FromProtoDuration(req->wait());
  const auto client_deadline = ctx->deadline();
  if (client_deadline != std::chrono::system_clock::time_point::max()) {
    Duration left =
        client_deadline - std::chrono::system_clock::now() - std::chrono::milliseconds(200);
    if (left < wait) wait = std::max(Duration::zero(), left);
  }
  if (req->new_process()) {
    auto ended = queue_->ReclaimLeasesOf(req->agent_id());
    if (!ended.ok()) return ToGrpcStatus(ended.status());
  }
  auto tasks = queue_->Lease(req->agent_id(), kinds, req->max_tasks(),
                             FromProtoDuration(req->lease_duration()), wait);
  if (!tasks.ok()) return ToGrpcStatus(tasks.status());
  for (const LeasedTask& t : *tasks) {
    v1::Task* out = resp->add_tasks();
    out->set_task_id(t.task_id);
    out->set_kind(t.kind);
    out->set_entity_id(t.entity_id);
    out->set_fencing_token(t.fencing_token);
    *out->mutable_locked_until() = ToProto(t.locked_until);
    out->set_etag(t.etag);
    if (t.context.has_value()) *out->mutable_context() = ToAny(*t.context);
    out->set_caller(t.caller);
    out->set_attempts(t.attempts);
    out->set_priority(PriorityToWire(t.priority));
    out->set_run_id(t.run_id);
    if (VLOG_IS_ON(1)) {
      logging::ScopedLogIds task_ids(
          CallIds(req->agent_id(), t.task_id, t.fencing_token, t.run_id));
      VLOG(1) << "leased " << t.kind << " " << t.entity_id << " (attempts " << t.attempts << ")";
    }
  }
  return grpc::Status::OK;
}

grpc::Status AgentServiceImpl::ExtendLease(grpc::ServerContext* ctx,
                                           const v1::ExtendLeaseRequest* req,
                                           v1::ExtendLeaseResponse* resp) {
  if (auto s = auth_->Check(ctx); !s.ok()) return s;
  logging::ScopedLogIds call_ids(CallIds(req->agent_id(), req->task_id(), req->fencing_token()));
  auto until = queue_->Extend(req->task_id(), req->fencing_token(),
                              FromProtoDuration(req->lease_duration()));
  if (!until.ok()) return ToGrpcStatus(until.status());
  *resp->mutable_locked_until() = ToProto(*until);
  return grpc::Status::OK;
}

namespace {

// Entity records travel to the core ESI module like any kind's payload
// (v1.EntityRecords); a completion carries one or the other.
absl::StatusOr<Completion> FromWire(const v1::CompleteTaskRequest& req) {
  Completion c;
  c.task_id = req.task_id();
  c.fencing_token = req.fencing_token();
  c.agent_id = req.agent_id();
  c.not_modified = req.not_modified();
  c.etag = req.etag();
  if (req.has_expires()) c.expires = FromProto(req.expires());
  if (req.records_size() > 0 && req.has_payload()) {
    return absl::InvalidArgumentError("records and payload cannot both be set");
  }
  if (req.records_size() > 0) {
    v1::EntityRecords records;
    *records.mutable_records() = req.records();
    c.payload = PackPayload(records);
  } else if (req.has_payload()) {
    c.payload = FromAny(req.payload());
  }
  for (const auto& d : req.discovered()) {
    c.discovered.push_back(Discovery{d.kind(), {d.ids().begin(), d.ids().end()}, d.force()});
  }
  return c;
}

}  // namespace

grpc::Status AgentServiceImpl::CompleteTask(grpc::ServerContext* ctx,
                                            const v1::CompleteTaskRequest* req,
                                            v1::CompleteTaskResponse* resp) {
  if (auto s = auth_->Check(ctx); !s.ok()) return s;
  logging::ScopedLogIds call_ids(CallIds(req->agent_id(), req->task_id(), req->fencing_token()));
  absl::StatusOr<Completion> c = FromWire(*req);
  if (!c.ok()) return ToGrpcStatus(c.status());
  auto out = queue_->Complete(*c);
  if (!out.ok()) return ToGrpcStatus(out.status());
  if (VLOG_IS_ON(1)) {
    logging::ScopedLogIds task_ids(
        CallIds(req->agent_id(), req->task_id(), req->fencing_token(), out->run_id));
    VLOG(1) << "committed: " << out->records_written << " record(s), " << out->tasks_queued
            << " task(s) queued";
  }
  resp->set_records_written(out->records_written);
  resp->set_tasks_queued(out->tasks_queued);
  return grpc::Status::OK;
}

grpc::Status AgentServiceImpl::CompleteTasks(grpc::ServerContext* ctx,
                                             const v1::CompleteTasksRequest* req,
                                             v1::CompleteTasksResponse* resp) {
  if (auto s = auth_->Check(ctx); !s.ok()) return s;
  logging::ScopedLogIds call_ids(
      CallIds(req->completions_size() > 0 ? req->completions(0).agent_id() : ""));
  std::vector<Completion> completions;
  std::vector<absl::StatusOr<CompletionOutcome>> all(req->completions_size());
  std::vector<int> index;  // of each completion handed to the queue
  for (int i = 0; i < req->completions_size(); ++i) {
    absl::StatusOr<Completion> c = FromWire(req->completions(i));
    if (!c.ok()) {
      all[i] =
          absl::InvalidArgumentError(absl::StrCat("completions[", i, "].", c.status().message()));
      continue;
    }
    completions.push_back(std::move(*c));
    index.push_back(i);
  }
  if (!completions.empty() || req->completions_size() == 0) {
    auto results = queue_->CompleteMany(completions);
    if (!results.ok()) return ToGrpcStatus(results.status());
    for (size_t j = 0; j < index.size(); ++j) all[index[j]] = std::move((*results)[j]);
  }
  if (VLOG_IS_ON(1)) {
    for (int i = 0; i < req->completions_size(); ++i) {
      const auto& c = req->completions(i);
      const auto& r = all[i];
      logging::ScopedLogIds task_ids(
          CallIds(c.agent_id(), c.task_id(), c.fencing_token(), r.ok() ? r->run_id : ""));
      if (r.ok()) {
        VLOG(1) << "committed: " << r->records_written << " record(s), " << r->tasks_queued
                << " task(s) queued";
      } else {
        VLOG(1) << "not committed: " << r.status();
      }
    }
  }
  for (const auto& r : all) {
    v1::CompletionResult* out = resp->add_results();
    out->set_code(static_cast<int32_t>(r.status().code()));
    out->set_message(std::string(r.status().message()));
    if (r.ok()) {
      out->set_records_written(r->records_written);
      out->set_tasks_queued(r->tasks_queued);
    }
  }
  return grpc::Status::OK;
}

grpc::Status AgentServiceImpl::FailTask(grpc::ServerContext* ctx, const v1::FailTaskRequest* req,
                                        v1::FailTaskResponse* resp) {
  if (auto s = auth_->Check(ctx); !s.ok()) return s;
  logging::ScopedLogIds call_ids(CallIds(req->agent_id(), req->task_id(), req->fencing_token()));
  Failure f;
  f.task_id = req->task_id();
  f.fencing_token = req->fencing_token();
  f.agent_id = req->agent_id();
  f.permanent = req->permanent();
  f.retry_after = FromProtoDuration(req->retry_after());
  f.error = req->error();
  f.http_status = req->http_status();
  f.release = req->release();
  auto out = queue_->Fail(f);
  if (!out.ok()) return ToGrpcStatus(out.status());
  if (VLOG_IS_ON(1)) {
    logging::ScopedLogIds task_ids(
        CallIds(req->agent_id(), req->task_id(), req->fencing_token(), out->run_id));
    VLOG(1) << (f.release ? "handed back" : out->dead ? "failed, dead-lettered" : "failed")
            << " (attempts " << out->attempts << "): " << f.error;
  }
  if (out->retry_at) *resp->mutable_retry_at() = ToProto(*out->retry_at);
  resp->set_attempts(out->attempts);
  resp->set_dead(out->dead);
  return grpc::Status::OK;
}

}  // namespace sluice
