#include "agent/core/outcome.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "agent/http/header_map.h"
#include "common/http_date.h"
#include "common/time_util.h"

namespace sluice::agent {
namespace {

constexpr size_t kMaxErrorBodyExcerpt = 200;
constexpr size_t kMaxErrorLength = 1000;

// Proto3 strings must be valid UTF-8 or the coordinator cannot parse the
// request at all; error text quotes upstream bodies and parser messages, so
// anything outside printable ASCII is escaped.
std::string SanitizeError(const std::string& text) {
  std::string out;
  out.reserve(std::min(text.size(), kMaxErrorLength));
  for (unsigned char ch : text) {
    if (out.size() >= kMaxErrorLength) {
      out += "...";
      break;
    }
    if (ch >= 0x20 && ch < 0x7f) {
      out.push_back(static_cast<char>(ch));
    } else if (ch == '\n' || ch == '\t') {
      out.push_back(' ');
    } else {
      absl::StrAppend(&out, "\\x", absl::Hex(ch, absl::kZeroPad2));
    }
  }
  return out;
}

// Never permanent: what a status means for the task is the queue's
// RetryPolicy's call (server/queue/retry_policy.h), made from http_status.
TaskOutcome Fail(OutcomeClass cls, const sluice::v1::Task& task, const std::string& agent_id,
                 int http_status, Duration retry_after, std::string error) {
  TaskOutcome out;
  out.cls = cls;
  out.fail.set_task_id(task.task_id());
  out.fail.set_fencing_token(task.fencing_token());
  out.fail.set_agent_id(agent_id);
  out.fail.set_http_status(http_status);
  *out.fail.mutable_retry_after() = ToProtoDuration(retry_after);
  out.fail.set_error(SanitizeError(error));
  return out;
}

TaskOutcome Complete(OutcomeClass cls, const sluice::v1::Task& task, const std::string& agent_id,
                     const HttpResponse& response) {
  TaskOutcome out;
  out.cls = cls;
  out.complete.set_task_id(task.task_id());
  out.complete.set_fencing_token(task.fencing_token());
  out.complete.set_agent_id(agent_id);
  out.complete.set_not_modified(cls == OutcomeClass::kNotModified);
  // A 304 need not repeat the ETag; keep the one we validated with.
  std::string etag = response.headers.GetOr("ETag");
  if (etag.empty() && cls == OutcomeClass::kNotModified) etag = task.etag();
  out.complete.set_etag(UsableEtag(std::move(etag)));
  if (auto expires = response.headers.GetDate("Expires"))
    *out.complete.mutable_expires() = ToProto(*expires);
  return out;
}

// A 2xx whose body the handler refused. The http_status stays the 2xx: the
// queue's RetryPolicy fetches a truncated body (DATA_LOSS) once more before
// giving up on it; a schema break is permanent at once where the kind can
// skip its entity.
TaskOutcome BadBody(const Handler& handler, const sluice::v1::Task& task,
                    const std::string& agent_id, int status, const absl::Status& why) {
  TaskOutcome out = Fail(OutcomeClass::kBadBody, task, agent_id, status, Duration::zero(),
                         std::string(why.message()));
  out.fail.set_permanent(!absl::IsDataLoss(why) && handler.skips_poison());
  return out;
}

// The longer of Retry-After and ESI's error-window reset: both say "not
// before", and obeying the later one is what keeps the key from a ban.
Duration RateLimitRetryAfter(const HeaderMap& headers, TimePoint now) {
  Duration wait = Duration::zero();
  for (const char* name : {"Retry-After", "X-ESI-Error-Limit-Reset"}) {
    if (auto value = headers.Get(name)) {
      // An unparseable value asks for nothing: the backoff still applies.
      absl::StatusOr<Duration> d = ParseRetryAfter(*value, now);
      if (d.ok()) wait = std::max(wait, *d);
    }
  }
  return wait;
}

std::string BodyExcerpt(const std::string& body) {
  if (body.empty()) return "";
  std::string excerpt = body.substr(0, kMaxErrorBodyExcerpt);
  if (body.size() > kMaxErrorBodyExcerpt) excerpt += "...";
  return absl::StrCat(": ", excerpt);
}

// A failed task whose answers carried an Expires is not tried again before
// it: asking sooner is what ESI bans for, whatever made the task fail. The
// wait is capped at what the queue accepts (kMaxRetryAfter, a day); only a
// body cached longer than that (a killmail's) could be asked for sooner, and
// its kind dead-letters a bad body instead of retrying it.
void WaitForExpires(TimePoint expires, TimePoint now, TaskOutcome* out) {
  if (expires <= now) return;
  const Duration wait =
      std::min<Duration>(std::chrono::duration_cast<Duration>(expires - now), kMaxRetryAfter);
  if (FromProtoDuration(out->fail.retry_after()) < wait) {
    *out->fail.mutable_retry_after() = ToProtoDuration(wait);
  }
}

}  // namespace

const char* OutcomeClassName(OutcomeClass cls) {
  switch (cls) {
    case OutcomeClass::kCompleted:
      return "completed";
    case OutcomeClass::kNotModified:
      return "not_modified";
    case OutcomeClass::kBadBody:
      return "bad_body";
    case OutcomeClass::kGone:
      return "gone";
    case OutcomeClass::kRateLimited:
      return "rate_limited";
    case OutcomeClass::kClientError:
      return "client_error";
    case OutcomeClass::kServerError:
      return "server_error";
    case OutcomeClass::kTransportError:
      return "transport_error";
    case OutcomeClass::kInconsistent:
      return "inconsistent";
    case OutcomeClass::kReleased:
      return "released";
  }
  return "unknown";
}

// A single answer's failure is retried as the table says, even a bad body
// that came with an Expires: its transfer failed, so no copy is held that
// asking again could be circumventing.
TaskOutcome DecideOutcome(const Handler& handler, const sluice::v1::Task& task,
                          const std::string& agent_id, const absl::StatusOr<HttpResponse>& response,
                          TimePoint now) {
  if (!response.ok()) {
    return Fail(OutcomeClass::kTransportError, task, agent_id, 0, Duration::zero(),
                std::string(response.status().message()));
  }
  const int status = response->status;
  const std::string label = absl::StrCat(task.kind(), " ", task.entity_id());
  if (status == 304) {
    return Complete(OutcomeClass::kNotModified, task, agent_id, *response);
  }
  if (status >= 200 && status < 300) {
    auto parsed = handler.Parse(task, *response);
    if (!parsed.ok()) return BadBody(handler, task, agent_id, status, parsed.status());
    TaskOutcome out = Complete(OutcomeClass::kCompleted, task, agent_id, *response);
    for (auto& r : parsed->records) *out.complete.add_records() = std::move(r);
    for (auto& d : parsed->discovered) *out.complete.add_discovered() = std::move(d);
    if (parsed->payload.has_value()) *out.complete.mutable_payload() = std::move(*parsed->payload);
    return out;
  }
  const std::string error = absl::StrCat(label, ": HTTP ", status, BodyExcerpt(response->body));
  if (status == 404 || status == 410) {
    return Fail(OutcomeClass::kGone, task, agent_id, status, Duration::zero(), error);
  }
  if (status == 420 || status == 429) {
    return Fail(OutcomeClass::kRateLimited, task, agent_id, status,
                RateLimitRetryAfter(response->headers, now), error);
  }
  if (status >= 400 && status < 500) {
    return Fail(OutcomeClass::kClientError, task, agent_id, status, Duration::zero(), error);
  }
  std::string detail = error;
  if (status >= 300 && status < 400) {
    absl::StrAppend(&detail, " (redirect to '", response->headers.GetOr("Location"),
                    "' not followed; check the upstream base URL)");
  }
  return Fail(OutcomeClass::kServerError, task, agent_id, status, Duration::zero(), detail);
}

namespace {

// The run's outcome before its pages' Expires is applied.
TaskOutcome RunOutcome(const Handler& handler, const sluice::v1::Task& task,
                       const std::string& agent_id, const absl::StatusOr<HandlerResult>& run,
                       FetchFailure failure, TimePoint now) {
  if (!run.ok()) {
    const std::string message(run.status().message());
    switch (failure) {
      case FetchFailure::kNoToken:
        return ReleaseOutcome(task, agent_id, absl::StrCat("no rate token: ", message));
      case FetchFailure::kTransport:
        return Fail(OutcomeClass::kTransportError, task, agent_id, 0, Duration::zero(), message);
      case FetchFailure::kNone:
        break;
    }
    if (absl::IsAborted(run.status())) {
      return Fail(OutcomeClass::kInconsistent, task, agent_id, 0, Duration::zero(), message);
    }
    return BadBody(handler, task, agent_id, 200, run.status());
  }
  if (run->stopped_by.has_value()) {
    const int status = run->stopped_by->status;
    if ((status >= 200 && status < 300) || status == 304) {
      return Fail(OutcomeClass::kBadBody, task, agent_id, status, Duration::zero(),
                  absl::StrCat(task.kind(), " ", task.entity_id(),
                               ": handler stopped on a successful answer (HTTP ", status, ")"));
    }
    return DecideOutcome(handler, task, agent_id, *run->stopped_by, now);
  }
  TaskOutcome out = Complete(OutcomeClass::kCompleted, task, agent_id, HttpResponse{});
  for (const auto& r : run->records) *out.complete.add_records() = r;
  for (const auto& d : run->discovered) *out.complete.add_discovered() = d;
  if (run->payload.has_value()) *out.complete.mutable_payload() = *run->payload;
  return out;
}

}  // namespace

TaskOutcome DecideRunOutcome(const Handler& handler, const sluice::v1::Task& task,
                             const std::string& agent_id, const absl::StatusOr<HandlerResult>& run,
                             FetchFailure failure, std::optional<TimePoint> not_before,
                             TimePoint now) {
  TaskOutcome out = RunOutcome(handler, task, agent_id, run, failure, now);
  if (!not_before.has_value()) return out;
  if (out.is_complete()) {
    *out.complete.mutable_expires() = ToProto(*not_before);
  } else {
    WaitForExpires(*not_before, now, &out);
  }
  return out;
}

TaskOutcome ReleaseOutcome(const sluice::v1::Task& task, const std::string& agent_id,
                           const std::string& reason, Duration retry_after) {
  TaskOutcome out = Fail(OutcomeClass::kReleased, task, agent_id, 0, retry_after, reason);
  // The upstream was never called: this costs the task no attempt.
  out.fail.set_release(true);
  return out;
}

}  // namespace sluice::agent
