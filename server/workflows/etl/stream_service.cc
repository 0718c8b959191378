#include "server/workflows/etl/stream_service.h"

#include "absl/strings/match.h"
#include "common/grpc_status.h"
#include "common/time_util.h"

namespace sluice {
namespace {

constexpr size_t kMaxName = 200;

grpc::Status Invalid(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

// Stream names are printable ASCII without spaces ("poe_stash:pc").
bool ValidName(const std::string& s) {
  if (s.size() > kMaxName) return false;
  for (char c : s) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

}  // namespace

grpc::Status StreamServiceImpl::ListCheckpoints(grpc::ServerContext* ctx,
                                                const v1::ListCheckpointsRequest* req,
                                                v1::ListCheckpointsResponse* resp) {
  if (auto s = auth_->Check(ctx); !s.ok()) return s;
  if (!ValidName(req->prefix())) {
    return Invalid("prefix: at most 200 printable characters without spaces");
  }
  TimePoint now;
  auto streams = status_->Read(&now);
  if (!streams.ok()) return ToGrpcStatus(streams.status());
  for (const etl::StreamStatus& s : *streams) {
    if (!absl::StartsWith(s.stream, req->prefix())) continue;
    v1::StreamCheckpoint* c = resp->add_checkpoints();
    c->set_stream(s.stream);
    c->set_cursor(s.cursor);
    *c->mutable_updated_at() = ToProto(s.updated_at);
    if (s.polled_at) *c->mutable_polled_at() = ToProto(*s.polled_at);
    if (s.head_at) *c->mutable_head_at() = ToProto(*s.head_at);
    *c->mutable_created_at() = ToProto(s.created_at);
    c->set_pages(s.pages);
    c->set_rows(s.rows);
    c->set_empty_polls(s.empty_polls);
    c->set_age_seconds(std::chrono::duration<double>(now - s.updated_at).count());
  }
  *resp->mutable_now() = ToProto(now);
  return grpc::Status::OK;
}

grpc::Status StreamServiceImpl::GetIngestStatus(grpc::ServerContext* ctx,
                                                const v1::GetIngestStatusRequest* req,
                                                v1::GetIngestStatusResponse* resp) {
  if (auto s = auth_->Check(ctx); !s.ok()) return s;
  if (!ValidName(req->stream())) {
    return Invalid("stream: at most 200 printable characters without spaces");
  }
  TimePoint now;
  auto streams = status_->Read(&now, req->stream());
  if (!streams.ok()) return ToGrpcStatus(streams.status());
  if (!req->stream().empty() && streams->empty()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "stream: no stream '" + req->stream() + "'");
  }
  for (const etl::StreamStatus& s : *streams) {
    v1::IngestStreamStatus* o = resp->add_streams();
    o->set_stream(s.stream);
    o->set_kind(etl::StreamKindName(s.kind));
    o->set_cursor(s.cursor);
    *o->mutable_updated_at() = ToProto(s.updated_at);
    if (s.polled_at) *o->mutable_polled_at() = ToProto(*s.polled_at);
    if (s.head_at) *o->mutable_head_at() = ToProto(*s.head_at);
    o->set_lag_seconds(s.lag_seconds);
    o->set_pages_total(s.pages);
    o->set_rows_total(s.rows);
    o->set_empty_polls_total(s.empty_polls);
    o->set_pages_window(s.pages_window);
    o->set_rows_window(s.rows_window);
    o->set_requests_per_min(s.requests_per_min);
    o->set_errors_window(s.errors_window);
    o->set_http_429_window(s.http_429_window);
    o->set_errors_total(s.errors_total);
    o->set_rejected_rewinds(s.rejected_rewinds);
    o->set_pending_rows(s.pending_rows);
  }
  resp->set_window_seconds(std::chrono::duration<double>(status_->window()).count());
  *resp->mutable_now() = ToProto(now);
  return grpc::Status::OK;
}

grpc::Status StreamServiceImpl::ListAlerts(grpc::ServerContext* ctx,
                                           const v1::ListAlertsRequest* req,
                                           v1::ListAlertsResponse* resp) {
  if (auto s = auth_->Check(ctx); !s.ok()) return s;
  if (req->history_limit() < 0 || req->history_limit() > 1000) {
    return Invalid("history_limit: must be between 0 (default 20) and 1000");
  }
  const int limit = req->history_limit() == 0 ? 20 : req->history_limit();
  TimePoint now;
  auto streams = status_->Read(&now);
  if (!streams.ok()) return ToGrpcStatus(streams.status());
  for (const etl::Alert& a : rules_->Evaluate(*streams)) {
    v1::StreamAlert* o = resp->add_firing();
    o->set_rule(a.rule);
    o->set_stream(a.stream);
    o->set_message(a.message);
    *o->mutable_since() = ToProto(a.since);
  }
  auto history = alerts_->History(limit);
  if (!history.ok()) return ToGrpcStatus(history.status());
  for (const etl::AlertEvent& e : *history) {
    v1::StreamAlertEvent* o = resp->add_history();
    o->set_id(e.id);
    o->set_rule(e.alert.rule);
    o->set_stream(e.alert.stream);
    o->set_state(e.state);
    o->set_message(e.alert.message);
    *o->mutable_since() = ToProto(e.alert.since);
    *o->mutable_at() = ToProto(e.at);
  }
  *resp->mutable_now() = ToProto(now);
  return grpc::Status::OK;
}

}  // namespace sluice
