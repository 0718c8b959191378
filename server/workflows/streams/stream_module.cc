#include "server/workflows/streams/stream_module.h"

#include <gflags/gflags.h>
#include <glog/logging.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "server/queue/task_kinds.h"
#include "server/store/task_extension.h"
#include "server/workflows/streams/checkpoint_store.h"
#include "server/workflows/streams/exchange_stream.h"
#include "server/workflows/streams/poe_streams.h"
#include "server/workflows/streams/stash_stream.h"

DEFINE_bool(poe_streams_enabled, false,
            "run the PoE public stash and currency exchange streams (one task each per realm)");
DEFINE_string(poe_realms, "pc", "comma-separated PoE realms to stream: pc, xbox, sony");
DEFINE_int32(poe_stash_poll_s, 2, "seconds before polling the stash stream's head again");
DEFINE_int32(poe_exchange_poll_s, 60,
             "seconds before asking again for an exchange hour not yet published");
DEFINE_string(poe_stash_start_id, "",
              "initial change id of a new stash stream checkpoint ('' = start of the stream)");
DEFINE_int64(poe_exchange_start_hour, 0,
             "initial unix hour of a new exchange stream checkpoint (0 = 24 h ago)");

namespace sluice {
namespace {

streams::StreamTiming TimingOf(const StreamOptions& options) {
  streams::StreamTiming timing;
  timing.stash_poll = options.stash_poll;
  timing.exchange_poll = options.exchange_poll;
  timing.stash_start_id = options.stash_start_id;
  timing.exchange_start_hour = options.exchange_start_hour;
  return timing;
}

}  // namespace

StreamOptions StreamOptionsFromFlags() {
  StreamOptions o;
  o.enabled = FLAGS_poe_streams_enabled;
  o.realms.clear();
  for (absl::string_view realm : absl::StrSplit(FLAGS_poe_realms, ',', absl::SkipWhitespace())) {
    o.realms.emplace_back(absl::StripAsciiWhitespace(realm));
  }
  o.stash_poll = std::chrono::seconds(std::max(0, FLAGS_poe_stash_poll_s));
  o.exchange_poll = std::chrono::seconds(std::max(0, FLAGS_poe_exchange_poll_s));
  o.stash_start_id = FLAGS_poe_stash_start_id;
  if (FLAGS_poe_exchange_start_hour > 0) o.exchange_start_hour = FLAGS_poe_exchange_start_hour;
  return o;
}

std::vector<std::pair<std::string, std::string>> StreamFlagEnv() {
  return {{"poe_streams_enabled", "SLUICE_POE_STREAMS_ENABLED"},
          {"poe_realms", "SLUICE_POE_REALMS"},
          {"poe_stash_poll_s", "SLUICE_POE_STASH_POLL_S"},
          {"poe_exchange_poll_s", "SLUICE_POE_EXCHANGE_POLL_S"},
          {"poe_stash_start_id", "SLUICE_POE_STASH_START_ID"},
          {"poe_exchange_start_hour", "SLUICE_POE_EXCHANGE_START_HOUR"}};
}

StreamModule::StreamModule(StreamOptions options)
    : options_(std::move(options)), timing_(TimingOf(options_)) {}

absl::Status StreamModule::RegisterKinds(TaskKindRegistry& kinds,
                                         TaskExtensionRegistry& extensions) {
  // No entity table: a stream's urgency comes from its priority and age.
  for (const TaskKind& k : {TaskKind{streams::kStashStreamKind, "", ""},
                            TaskKind{streams::kExchangeStreamKind, "", ""}}) {
    if (absl::Status s = kinds.Register(k); !s.ok()) return s;
  }
  // Each extension keeps a copy: the registry may outlive this module.
  absl::Status s = extensions.Register(
      std::make_unique<streams::StashStreamExtension>(timing_, options_.poe_token));
  if (!s.ok()) return s;
  return extensions.Register(
      std::make_unique<streams::ExchangeStreamExtension>(timing_, options_.poe_token));
}

void StreamModule::Wire(WorkflowWiring& wiring) {
  pool_ = wiring.pool;
  queue_ = wiring.queue;
  clock_ = wiring.clock;
}

std::vector<std::string> PoeStreamScopes() { return {"service:psapi", "service:cxapi"}; }

void StreamModule::Stop() {
  if (options_.poe_token) options_.poe_token->Stop();
}

void StreamModule::Start() {
  if (!options_.enabled || pool_ == nullptr || queue_ == nullptr) return;
  if (options_.poe_token == nullptr) {
    LOG(ERROR) << "PoE streams not started: GGG's APIs need an OAuth service token; give the "
                  "coordinator --poe_client_id and --poe_client_secret_file (a GGG OAuth client "
                  "with the client_credentials grant and the service:psapi and service:cxapi "
                  "scopes)";
    return;
  }
  options_.poe_token->Start();
  std::vector<int64_t> realm_ids;
  for (const std::string& realm : options_.realms) {
    auto index = streams::RealmIndex(realm);
    if (!index) {
      LOG(ERROR) << "--poe_realms: unknown realm '" << realm << "' (pc, xbox, sony); skipped";
      continue;
    }
    realm_ids.push_back(*index);
    const TimePoint now = clock_->Now();
    absl::Status s = pool_->Run([&](pqxx::connection& conn) {
      pqxx::work w(conn);
      streams::CheckpointStore::Ensure(w, streams::StashStreamName(realm), timing_.stash_start_id,
                                       now);
      streams::CheckpointStore::Ensure(w, streams::ExchangeStreamName(realm),
                                       std::to_string(streams::ExchangeStartHour(timing_, now)),
                                       now);
      w.commit();
      return absl::OkStatus();
    });
    if (!s.ok()) LOG(ERROR) << "stream checkpoints for realm " << realm << ": " << s;
  }
  if (realm_ids.empty()) return;
  for (const char* kind : {streams::kStashStreamKind, streams::kExchangeStreamKind}) {
    auto queued = queue_->Enqueue(kind, realm_ids, Priority::kManual);
    if (!queued.ok()) {
      LOG(ERROR) << "queueing " << kind << " streams: " << queued.status();
    } else {
      LOG(INFO) << kind << ": " << queued->enqueued << " stream(s) queued, "
                << queued->already_queued << " already queued";
    }
  }
}

}  // namespace sluice
