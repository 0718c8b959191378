#include "server/workflows/killmails/killmail_module.h"

#include <gflags/gflags.h>
#include <glog/logging.h>

#include <algorithm>

#include "server/workflows/killmails/killmail_admin_service.h"
#include "server/workflows/killmails/killmail_jobs.h"
#include "server/workflows/killmails/killmail_kinds.h"
#include "server/workflows/killmails/token_store.h"

DEFINE_int32(killmail_sync_interval_s, 600,
             "killmail_sync job interval: queue characters with a token for killmail sync");
DEFINE_int32(killmail_sync_stale_s, 900,
             "killmail_sync: characters synced within this many seconds are not queued again");
DEFINE_int32(scan_entities_interval_s, 3600,
             "scan_entities job interval: queue entities named by killmails but not stored");

namespace sluice {

KillmailOptions KillmailOptionsFromFlags() {
  KillmailOptions o;
  o.sync_interval = std::chrono::seconds(std::max(1, FLAGS_killmail_sync_interval_s));
  o.sync_stale = std::chrono::seconds(std::max(0, FLAGS_killmail_sync_stale_s));
  o.scan_entities_interval = std::chrono::seconds(std::max(1, FLAGS_scan_entities_interval_s));
  return o;
}

std::vector<std::pair<std::string, std::string>> KillmailFlagEnv() {
  return {{"killmail_sync_interval_s", "SLUICE_KILLMAIL_SYNC_INTERVAL_S"},
          {"killmail_sync_stale_s", "SLUICE_KILLMAIL_SYNC_STALE_S"},
          {"scan_entities_interval_s", "SLUICE_SCAN_ENTITIES_INTERVAL_S"}};
}

KillmailModule::KillmailModule(KillmailOptions options) : options_(std::move(options)) {}
KillmailModule::~KillmailModule() = default;

absl::Status KillmailModule::RegisterKinds(TaskKindRegistry& kinds,
                                           TaskExtensionRegistry& extensions) {
  return RegisterKillmailKinds(kinds, extensions, options_.token_box.get());
}

void KillmailModule::Wire(WorkflowWiring& wiring) {
  tokens_ =
      std::make_unique<CharacterTokenStore>(wiring.pool, wiring.clock, options_.token_box.get());
  if (options_.eve_sso != nullptr) {
    refresher_ = std::make_unique<SsoRefresher>(tokens_.get(), options_.eve_sso.get(),
                                                wiring.clock, options_.refresher);
  }
  service_ = std::make_unique<KillmailAdminServiceImpl>(tokens_.get(), refresher_.get(),
                                                        wiring.authorizer);
  wiring.services->push_back(service_.get());
  wiring.scheduler->AddJob(
      std::make_unique<KillmailSyncJob>(wiring.pool, wiring.queue, options_.sync_stale),
      options_.sync_interval);
  wiring.scheduler->AddJob(std::make_unique<ScanEntitiesJob>(wiring.pool, wiring.queue),
                           options_.scan_entities_interval);
}

void KillmailModule::Stop() {
  if (refresher_) refresher_->Stop();
}

void KillmailModule::Start() {
  if (options_.token_box == nullptr) {
    LOG(WARNING) << "no token key (--token_key_file): ESI tokens for killmail sync are neither "
                    "stored nor handed out";
    return;
  }
  if (refresher_) {
    LOG(INFO) << "EVE SSO refresher on (" << options_.eve_sso->token_url() << ")";
    refresher_->Start();
  }
  absl::StatusOr<RekeyResult> rekeyed = tokens_->Rekey();
  if (!rekeyed.ok()) {
    LOG(ERROR) << "re-keying stored ESI tokens: " << rekeyed.status();
    return;
  }
  LOG(INFO) << "stored ESI tokens under key " << rekeyed->current_key_id << ": "
            << rekeyed->resealed << " re-keyed, " << rekeyed->sealed_plain
            << " sealed from plain text, " << rekeyed->unreadable << " unreadable";
}

}  // namespace sluice
