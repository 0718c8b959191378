// StreamModule runs the Path of Exile cursor streams (issue 5): the public
// stash stream and the hourly currency exchange, one stream of each per
// configured realm. See workflow_module.h for the module contract.
//
// Each stream is one queued task (kinds poe_stash_stream /
// poe_exchange_stream, entity id = realm index: 1 pc, 2 xbox, 3 sony) that its completions requeue
// instead of deleting, so one agent holds a stream at a time; its cursor lives
// in `checkpoints` (checkpoint_store.h) and moves only with the rows it
// covers (stash_stream.h, exchange_stream.h).
//
// The module's timing (poll delays, initial cursors) is its own: built from
// its options and copied into the extensions it registers, so two
// coordinators in one process can run different timings.
//
// Ownership: borrows what WorkflowWiring lends. Thread-safety: as
// WorkflowModule.
#ifndef SLUICE_SERVER_WORKFLOWS_STREAMS_STREAM_MODULE_H_
#define SLUICE_SERVER_WORKFLOWS_STREAMS_STREAM_MODULE_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "server/oauth/service_token.h"
#include "server/workflows/streams/poe_streams.h"
#include "server/workflows/workflow_module.h"

namespace sluice {

struct StreamOptions {
  // Off by default: a coordinator only calls PoE when asked to.
  bool enabled = false;
  std::vector<std::string> realms = {"pc"};
  // Re-poll delay at the head of the stash stream (an empty page). PoE's
  // stream is a firehose whose head moves every second or two; 2 s keeps a
  // realm at the head within a couple of seconds for 0.5 requests a second,
  // well inside the public-stash policy (45 per 60 s) shared with catch-up.
  std::chrono::seconds stash_poll{2};
  // Re-poll delay when the exchange hour is not published yet (at least
  // until the hour has ended).
  std::chrono::seconds exchange_poll{60};
  // Initial cursors for streams that have no checkpoint yet.
  std::string stash_start_id;                  // "" = the start of the stream
  std::optional<int64_t> exchange_start_hour;  // unix time; unset = now - 24 h
  // GGG's service token (server/oauth/service_token.h) for the scopes the
  // streams need (service:psapi, service:cxapi), handed to agents with each
  // lease. Enabled streams refuse to start without one: GGG's APIs need it.
  std::shared_ptr<oauth::ServiceTokenSource> poe_token;
};

// The scopes of GGG's service token the streams need: service:psapi (public
// stash stream) and service:cxapi (currency exchange).
std::vector<std::string> PoeStreamScopes();

StreamOptions StreamOptionsFromFlags();
// (flag, ENV_VAR) pairs for this module's flags (12-factor configuration).
std::vector<std::pair<std::string, std::string>> StreamFlagEnv();

class StreamModule : public WorkflowModule {
 public:
  explicit StreamModule(StreamOptions options);
  absl::Status RegisterKinds(TaskKindRegistry& kinds, TaskExtensionRegistry& extensions) override;
  void Wire(WorkflowWiring& wiring) override;
  // When enabled: a checkpoint and a queued task for every configured
  // stream, and the service token's refresher started. Without a service
  // token the streams do not start (logged as an error).
  void Start() override;
  void Stop() override;

 private:
  const StreamOptions options_;
  const streams::StreamTiming timing_;
  PgPool* pool_ = nullptr;
  TaskQueue* queue_ = nullptr;
  const Clock* clock_ = nullptr;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_WORKFLOWS_STREAMS_STREAM_MODULE_H_
