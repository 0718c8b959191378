#include "server/workflows/etl/etl_module.h"

#include <gflags/gflags.h>
#include <glog/logging.h>

#include <algorithm>
#include <cctype>

#include "server/workflows/etl/alert_store.h"
#include "server/workflows/etl/ingest_status.h"
#include "server/workflows/etl/poe_transform_job.h"
#include "server/workflows/etl/poe_transforms.h"
#include "server/workflows/etl/stream_service.h"

DEFINE_bool(etl_loop, true,
            "run the ETL loop: PoE transforms, poe_ingest_status and stream alerts");
DEFINE_int32(etl_interval_ms, 2000, "ETL loop period");
DEFINE_int32(etl_batch_size, 1000, "raw rows per ETL transform transaction");
DEFINE_int32(etl_max_batches_per_tick, 20, "ETL loop: batches per transform per round");
DEFINE_int32(etl_job_interval_s, 300, "poe_transform job interval");
DEFINE_int32(etl_status_window_s, 300, "poe_ingest_status window for rates and error counts");
DEFINE_int32(alert_stash_lag_s, 600, "alert: public stash lag (time since at the head) above this");
DEFINE_int32(alert_currency_lag_s, 3900,
             "alert: currency exchange lag (now - end of last ingested hour) above this");
DEFINE_int32(alert_drift_s, 120, "alert: cursor not advanced this long while data is available");
DEFINE_int32(alert_stall_s, 600, "alert: no committed poll of a stream for this long");
DEFINE_int32(alert_429_storm_count, 5, "alert: this many 429s within --alert_429_storm_window_s");
DEFINE_int32(alert_429_storm_window_s, 300, "alert: 429 storm window");
DEFINE_int32(alert_exchange_publish_delay_s, 300,
             "how long after an hour ends the currency exchange may take to publish it");

namespace sluice {

EtlOptions EtlOptionsFromFlags() {
  EtlOptions o;
  o.loop_enabled = FLAGS_etl_loop;
  o.interval = std::chrono::milliseconds(std::max(10, FLAGS_etl_interval_ms));
  o.batch_size = std::max(1, FLAGS_etl_batch_size);
  o.max_batches_per_tick = std::max(1, FLAGS_etl_max_batches_per_tick);
  o.job_interval = std::chrono::seconds(std::max(1, FLAGS_etl_job_interval_s));
  o.status_window = std::chrono::seconds(std::max(1, FLAGS_etl_status_window_s));
  o.alerts.stash_lag_max = std::chrono::seconds(std::max(1, FLAGS_alert_stash_lag_s));
  o.alerts.currency_lag_max = std::chrono::seconds(std::max(1, FLAGS_alert_currency_lag_s));
  o.alerts.drift_after = std::chrono::seconds(std::max(1, FLAGS_alert_drift_s));
  o.alerts.stall_after = std::chrono::seconds(std::max(1, FLAGS_alert_stall_s));
  o.alerts.storm_count = std::max(1, FLAGS_alert_429_storm_count);
  o.alerts.storm_window = std::chrono::seconds(std::max(1, FLAGS_alert_429_storm_window_s));
  o.alerts.exchange_publish_delay =
      std::chrono::seconds(std::max(0, FLAGS_alert_exchange_publish_delay_s));
  return o;
}

std::vector<std::pair<std::string, std::string>> EtlFlagEnv() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const char* flag :
       {"etl_loop", "etl_interval_ms", "etl_batch_size", "etl_max_batches_per_tick",
        "etl_job_interval_s", "etl_status_window_s", "alert_stash_lag_s", "alert_currency_lag_s",
        "alert_drift_s", "alert_stall_s", "alert_429_storm_count", "alert_429_storm_window_s",
        "alert_exchange_publish_delay_s"}) {
    std::string env = "SLUICE_";
    for (const char* c = flag; *c; ++c) env.push_back(static_cast<char>(std::toupper(*c)));
    out.emplace_back(flag, env);
  }
  return out;
}

EtlModule::EtlModule(EtlOptions options) : options_(std::move(options)) {}

EtlModule::~EtlModule() { Stop(); }

void EtlModule::Wire(WorkflowWiring& wiring) {
  clock_ = wiring.clock;
  transforms_ =
      std::make_unique<etl::PoeTransforms>(wiring.pool, wiring.clock, options_.batch_size);
  status_ = std::make_unique<etl::IngestStatusReader>(
      wiring.pool, wiring.clock, options_.status_window, options_.alerts.storm_window);
  rules_ = std::make_unique<etl::AlertRules>(options_.alerts, wiring.clock);
  alert_store_ = std::make_unique<etl::AlertStore>(wiring.pool);
  service_ = std::make_unique<StreamServiceImpl>(status_.get(), rules_.get(), alert_store_.get(),
                                                 wiring.authorizer);
  if (wiring.services) wiring.services->push_back(service_.get());
  if (wiring.scheduler) {
    wiring.scheduler->AddJob(std::make_unique<etl::PoeTransformJob>(transforms_.get()),
                             options_.job_interval);
  }
}

void EtlModule::Start() {
  if (!options_.loop_enabled || !transforms_ || loop_.joinable()) return;
  loop_ = std::thread([this] { Loop(); });
}

void EtlModule::Stop() {
  stopping_ = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_requested_ = true;
  }
  cv_.notify_all();
  if (loop_.joinable()) loop_.join();
}

void EtlModule::Loop() {
  // Errors repeat every round while the database is away: log a change of
  // state, not every round.
  bool failing = false;
  while (true) {
    absl::Status s = Tick();
    if (!s.ok() && !failing) LOG(WARNING) << "etl loop: " << s;
    if (s.ok() && failing) LOG(INFO) << "etl loop: recovered";
    failing = !s.ok();
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, options_.interval, [this] { return stop_requested_; })) return;
  }
}

absl::Status EtlModule::Tick() {
  absl::Status first;
  if (options_.transforms_in_loop) {
    auto pass = transforms_->RunPass(options_.max_batches_per_tick, &stopping_);
    if (!pass.ok()) {
      first = pass.status();
    } else if (pass->raw_rows > 0) {
      VLOG(1) << "etl: " << pass->raw_rows << " raw row(s), " << pass->rows_written
              << " silver/gold row(s)";
    }
  }
  if (stopping_) return first;
  absl::Status alerts = EvaluateAlerts();
  return first.ok() ? alerts : first;
}

absl::Status EtlModule::EvaluateAlerts() {
  TimePoint now;
  auto snapshot = status_->Read(&now);
  if (!snapshot.ok()) return snapshot.status();
  if (absl::Status s = status_->WriteTable(*snapshot, now); !s.ok()) return s;
  if (!firing_loaded_) {
    auto firing = alert_store_->Firing();
    if (!firing.ok()) return firing.status();
    firing_ = std::move(*firing);
    firing_loaded_ = true;
  }
  const std::vector<etl::Alert> alerts = rules_->Evaluate(*snapshot);
  const std::vector<etl::AlertTransition> changes = etl::DiffAlerts(firing_, alerts);
  if (changes.empty()) return absl::OkStatus();
  if (absl::Status s = alert_store_->Record(changes, now); !s.ok()) return s;
  for (const etl::AlertTransition& t : changes) {
    if (t.firing) {
      LOG(WARNING) << "alert firing: " << t.alert.rule << ": " << t.alert.message;
      firing_[t.alert.key()] = t.alert;
    } else {
      LOG(INFO) << "alert resolved: " << t.alert.rule << " on " << t.alert.stream;
      firing_.erase(t.alert.key());
    }
  }
  return absl::OkStatus();
}

}  // namespace sluice
