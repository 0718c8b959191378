#include "server/workflows/esi/esi_module.h"

#include <gflags/gflags.h>

#include <algorithm>
#include <memory>

#include "server/workflows/esi/daily_esi_job.h"
#include "server/workflows/esi/esi_kinds.h"
#include "server/workflows/esi/snapshot_job.h"

DEFINE_int32(daily_interval_s, 86400, "interval of the daily_esi job");
DEFINE_int32(snapshot_interval_s, 86400, "interval of the snapshots job");
DEFINE_bool(daily_characters, false, "the daily_esi job also refreshes every known character");

namespace sluice {

EsiOptions EsiOptionsFromFlags() {
  EsiOptions o;
  o.daily_interval = std::chrono::seconds(std::max(1, FLAGS_daily_interval_s));
  o.snapshot_interval = std::chrono::seconds(std::max(1, FLAGS_snapshot_interval_s));
  o.daily_characters = FLAGS_daily_characters;
  return o;
}

std::vector<std::pair<std::string, std::string>> EsiFlagEnv() {
  return {{"daily_interval_s", "SLUICE_DAILY_INTERVAL_S"},
          {"snapshot_interval_s", "SLUICE_SNAPSHOT_INTERVAL_S"},
          {"daily_characters", "SLUICE_DAILY_CHARACTERS"}};
}

absl::Status EsiModule::RegisterKinds(TaskKindRegistry& kinds, TaskExtensionRegistry& extensions) {
  return esi::RegisterEsiKinds(kinds, extensions);
}

void EsiModule::Wire(WorkflowWiring& wiring) {
  wiring.scheduler->AddJob(std::make_unique<DailyEsiJob>(wiring.queue, options_.daily_characters),
                           options_.daily_interval);
  wiring.scheduler->AddJob(std::make_unique<SnapshotJob>(wiring.pool), options_.snapshot_interval);
}

}  // namespace sluice
