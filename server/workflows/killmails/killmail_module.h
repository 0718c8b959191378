// KillmailModule: seed 003's background killmail sync with incremental stop,
// and seed 001's "scan entities" discovery (see workflow_module.h for the
// seam, killmail_kinds.h for the task kinds, killmail_jobs.h for the jobs,
// token_store.h for the tokens).
//
// Ownership: owns its token store and admin service; borrows the wiring.
#ifndef SLUICE_SERVER_WORKFLOWS_KILLMAILS_KILLMAIL_MODULE_H_
#define SLUICE_SERVER_WORKFLOWS_KILLMAILS_KILLMAIL_MODULE_H_

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/secret_box.h"
#include "server/oauth/token_endpoint.h"
#include "server/workflows/killmails/sso_refresher.h"
#include "server/workflows/workflow_module.h"

namespace sluice {

class CharacterTokenStore;
class KillmailAdminServiceImpl;

struct KillmailOptions {
  // killmail_sync: how often it runs, and how long a character's killmails
  // stay fresh (seed 003: every 10 minutes, characters not synced for 15).
  Duration sync_interval = std::chrono::seconds(600);
  Duration sync_stale = std::chrono::seconds(900);
  // scan_entities: how often killmail participants are scanned.
  Duration scan_entities_interval = std::chrono::seconds(3600);
  // Seals and opens the stored ESI tokens (token_store.h); null = no key:
  // tokens are neither stored nor handed out. main() builds it from
  // --token_key_file / --token_key_previous_file.
  std::shared_ptr<const SecretBox> token_box;
  // EVE SSO's token endpoint (server/oauth/oauth_flags.h); null = none:
  // only access tokens can be added, and nothing is refreshed.
  std::shared_ptr<const oauth::TokenEndpointClient> eve_sso;
  SsoRefresherOptions refresher;
};

KillmailOptions KillmailOptionsFromFlags();
// (flag, ENV_VAR) pairs for this module's flags (12-factor configuration).
std::vector<std::pair<std::string, std::string>> KillmailFlagEnv();

class KillmailModule : public WorkflowModule {
 public:
  explicit KillmailModule(KillmailOptions options);
  ~KillmailModule() override;
  absl::Status RegisterKinds(TaskKindRegistry& kinds, TaskExtensionRegistry& extensions) override;
  void Wire(WorkflowWiring& wiring) override;
  // With a token key: seals under it every token that is not (the previous
  // key's, plain rows from before 0016); with an EVE SSO client, starts the
  // refresher.
  void Start() override;
  void Stop() override;

 private:
  KillmailOptions options_;
  std::unique_ptr<CharacterTokenStore> tokens_;
  std::unique_ptr<SsoRefresher> refresher_;  // null without an EVE SSO client
  std::unique_ptr<KillmailAdminServiceImpl> service_;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_WORKFLOWS_KILLMAILS_KILLMAIL_MODULE_H_
