#include "server/workflows/contracts/contract_module.h"

#include <gflags/gflags.h>
#include <glog/logging.h>

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "server/workflows/contracts/contract_aggregation_job.h"
#include "server/workflows/contracts/contract_extensions.h"

namespace {

// Comma-separated positive ids; false (and nothing in *out) if any is not one.
bool ParseIdList(const std::string& text, std::vector<int64_t>* out) {
  std::vector<int64_t> ids;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    int64_t id = 0;
    if (!absl::SimpleAtoi(part, &id) || id <= 0) return false;
    ids.push_back(id);
  }
  if (out != nullptr) *out = std::move(ids);
  return true;
}

bool ValidateIdList(const char* flag, const std::string& value) {
  if (ParseIdList(value, nullptr)) return true;
  fprintf(stderr, "--%s: '%s' is not a comma-separated list of positive ids\n", flag,
          value.c_str());
  return false;
}

bool ValidatePositive(const char* flag, int32_t value) {
  if (value > 0) return true;
  fprintf(stderr, "--%s: must be positive, got %d\n", flag, value);
  return false;
}

}  // namespace

DEFINE_string(contract_regions, "10000002,10000043",
              "contract_aggregation: region ids whose public contracts are kept (comma list)");
DEFINE_validator(contract_regions, &ValidateIdList);
DEFINE_int32(contract_interval_s, 1200,
             "contract_aggregation job interval in seconds (seed 004: 15-30 minutes)");
DEFINE_validator(contract_interval_s, &ValidatePositive);
// Same list as DefaultShipGroupIds() (ship_classifier.cc; a test checks).
DEFINE_string(contract_ship_group_ids,
              "25,26,27,28,30,237,324,358,380,419,420,463,485,513,540,541,543,547,659,830,831,"
              "832,833,834,893,894,898,900,902,906,941,963,1201,1202,1283,1305,1527,1534,1538,"
              "1972",
              "type group ids that make an item a ship (ship-contract rule)");
DEFINE_validator(contract_ship_group_ids, &ValidateIdList);
DEFINE_int32(contract_type_refresh_batch, 20,
             "contract_aggregation: cached types refreshed per run (oldest first)");
DEFINE_validator(contract_type_refresh_batch, &ValidatePositive);
DEFINE_int32(contract_type_max_age_days, 30,
             "contract_aggregation: a cached type older than this is refreshed");
DEFINE_validator(contract_type_max_age_days, &ValidatePositive);
DEFINE_int32(contract_run_timeout_s, 900,
             "contract_aggregation: longest a run waits for its regions' tasks");
DEFINE_validator(contract_run_timeout_s, &ValidatePositive);
DEFINE_int32(contract_batch_size, 500, "contracts per upsert statement");
DEFINE_validator(contract_batch_size, &ValidatePositive);

namespace sluice {

ContractOptions ContractOptionsFromFlags() {
  ContractOptions o;
  CHECK(ParseIdList(FLAGS_contract_regions, &o.regions)) << "--contract_regions";
  CHECK(ParseIdList(FLAGS_contract_ship_group_ids, &o.ship_group_ids))
      << "--contract_ship_group_ids";
  o.interval = std::chrono::seconds(std::max(1, FLAGS_contract_interval_s));
  o.type_refresh_batch = std::max(1, FLAGS_contract_type_refresh_batch);
  o.type_max_age = std::chrono::hours(24 * std::max(1, FLAGS_contract_type_max_age_days));
  o.run_timeout = std::chrono::seconds(std::max(1, FLAGS_contract_run_timeout_s));
  o.batch_size = std::max(1, FLAGS_contract_batch_size);
  return o;
}

std::vector<std::pair<std::string, std::string>> ContractFlagEnv() {
  return {{"contract_regions", "SLUICE_CONTRACT_REGIONS"},
          {"contract_interval_s", "SLUICE_CONTRACT_INTERVAL_S"},
          {"contract_ship_group_ids", "SLUICE_CONTRACT_SHIP_GROUP_IDS"},
          {"contract_type_refresh_batch", "SLUICE_CONTRACT_TYPE_REFRESH_BATCH"},
          {"contract_type_max_age_days", "SLUICE_CONTRACT_TYPE_MAX_AGE_DAYS"},
          {"contract_run_timeout_s", "SLUICE_CONTRACT_RUN_TIMEOUT_S"},
          {"contract_batch_size", "SLUICE_CONTRACT_BATCH_SIZE"}};
}

absl::Status ContractModule::RegisterKinds(TaskKindRegistry& kinds,
                                           TaskExtensionRegistry& extensions) {
  ContractStoreSettings settings;
  settings.ship_groups.insert(options_.ship_group_ids.begin(), options_.ship_group_ids.end());
  settings.batch_size = options_.batch_size;
  return RegisterContractKinds(settings, kinds, extensions);
}

void ContractModule::Wire(WorkflowWiring& wiring) {
  ContractJobOptions job;
  job.regions = options_.regions;
  job.type_refresh_batch = options_.type_refresh_batch;
  job.type_max_age = options_.type_max_age;
  job.run_timeout = options_.run_timeout;
  job.store.ship_groups.insert(options_.ship_group_ids.begin(), options_.ship_group_ids.end());
  job.store.batch_size = options_.batch_size;
  wiring.scheduler->AddJob(
      std::make_unique<ContractAggregationJob>(wiring.pool, wiring.queue, std::move(job)),
      options_.interval);
}

}  // namespace sluice
