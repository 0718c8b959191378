// Plain data passed between the queue's domain logic and its store.
#ifndef SLUICE_SERVER_QUEUE_QUEUE_TYPES_H_
#define SLUICE_SERVER_QUEUE_QUEUE_TYPES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <google/protobuf/any.pb.h>

#include "common/clock.h"
#include "sluice/v1/entities.pb.h"

namespace sluice {

struct LeasedTask {
  int64_t task_id = 0;
  std::string kind;
  int64_t entity_id = 0;
  int64_t fencing_token = 0;
  TimePoint locked_until;
  std::string etag;
  int attempts = 0;
  int priority = 0;
  // Filled at lease time by the kind's TaskExtension, if it has one.
  std::optional<google::protobuf::Any> context;
  // Whom the upstream bills the task's authenticated calls to ("char:<id>"),
  // set by the kind's TaskExtension; empty for public calls. The agent asks
  // the throttler for that caller's budgets.
  std::string caller;
};

struct Discovery {
  std::string kind;
  std::vector<int64_t> ids;
  // Queue even if the entity was refreshed within the freshness window.
  bool force = false;
};

struct Completion {
  int64_t task_id = 0;
  int64_t fencing_token = 0;
  std::string agent_id;
  bool not_modified = false;
  std::string etag;
  std::optional<TimePoint> expires;
  std::vector<v1::EntityRecord> records;
  std::vector<Discovery> discovered;
  // A workflow kind's result, applied by its TaskExtension.
  std::optional<google::protobuf::Any> payload;
};

struct CompletionOutcome {
  int records_written = 0;
  int tasks_queued = 0;
  // The task itself was kept and is ready again at once (a stream's next
  // page): waiting leasers should look now.
  bool requeued_now = false;
};

struct Failure {
  int64_t task_id = 0;
  int64_t fencing_token = 0;
  std::string agent_id;
  bool permanent = false;
  Duration retry_after{0};
  std::string error;
  int http_status = 0;
  // Handed back unstarted: no attempt counted, no backoff beyond retry_after.
  bool release = false;
};

struct FailureOutcome {
  std::optional<TimePoint> retry_at;
  int attempts = 0;
  bool dead = false;
};

struct EnqueueOutcome {
  int enqueued = 0;
  int already_queued = 0;
};

struct KindStats {
  std::string kind;
  int64_t ready = 0;
  int64_t leased = 0;
  int64_t retrying = 0;
  double oldest_age_seconds = 0;
  std::vector<std::pair<std::string, int64_t>> agents;  // agent id, leases held
  int64_t dead = 0;
};

struct EntityCountRow {
  std::string kind;
  int64_t count = 0;
  int64_t refreshed_since = 0;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_QUEUE_QUEUE_TYPES_H_
