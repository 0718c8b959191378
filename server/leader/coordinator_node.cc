#include "server/leader/coordinator_node.h"

#include <glog/logging.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/metrics/process_metrics.h"
#include "db/migrations.h"
#include "server/store/migrator.h"
#include "server/store/pg_pool.h"

namespace sluice {
namespace {

using SteadyClock = std::chrono::steady_clock;

std::string DefaultHolder(const std::string& listen) {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return absl::StrCat(host, " pid ", getpid(), " ", listen);
}

}  // namespace

CoordinatorNode::CoordinatorNode(CoordinatorNodeOptions options) : options_(std::move(options)) {
  const std::string& listen = options_.coordinator.listen;
  const size_t colon = listen.rfind(':');
  host_ = colon == std::string::npos ? listen : listen.substr(0, colon);
  if (options_.election.dsn.empty()) options_.election.dsn = options_.coordinator.dsn;
  if (options_.election.holder.empty()) options_.election.holder = DefaultHolder(listen);
  // A deposed leader stops granting within lost_after of its last good check
  // (sooner if a check fails); a takeover's restore must count its grants for
  // that long, and a little more for the stop itself.
  options_.coordinator.throttle.takeover_grant_grace =
      std::max<Duration>(options_.coordinator.throttle.takeover_grant_grace,
                         options_.election.lost_after + std::chrono::seconds(2));
}

CoordinatorNode::~CoordinatorNode() { Shutdown(std::chrono::milliseconds(0)); }

absl::Status CoordinatorNode::StartStandbyOps() {
  const CoordinatorOptions& c = options_.coordinator;
  if (c.ops_listen.empty()) return absl::OkStatus();
  standby_ops_ = std::make_unique<OpsHttpServer>(
      [] {
        OpsSnapshot s;
        s.taken_at = SystemClock::Get()->Now();
        s.leading = false;
        return s;
      },
      // Ready to take over: it needs nothing more to be.
      [] { return OpsHttpServer::Readiness{}; });
  // A standby is a process to watch too.
  standby_ops_->AddMetrics(std::make_shared<metrics::ProcessMetrics>());
  standby_ops_->AddMetrics(std::make_shared<metrics::BuildInfo>());
  if (c.ops_require_operator) {
    auto authorizer = Authorizer::FromConfig(c.auth_token, c.auth_file);
    if (!authorizer.ok()) return authorizer.status();
    ops_authorizer_ = std::move(*authorizer);
    standby_ops_->RequireAuthorization(
        [this](const std::string& header) { return ops_authorizer_->IsOperator(header); });
  }
  absl::StatusOr<int> bound = standby_ops_->Start(c.ops_listen);
  if (!bound.ok()) {
    standby_ops_.reset();
    return bound.status();
  }
  ops_port_ = *bound;
  return absl::OkStatus();
}

void CoordinatorNode::StopStandby() {
  if (standby_) standby_->Stop();
  standby_.reset();
  if (standby_ops_) standby_ops_->Stop();
  standby_ops_.reset();
}

absl::Status CoordinatorNode::StartStandby() {
  const std::string listen =
      port_ == 0 ? options_.coordinator.listen : absl::StrCat(host_, ":", port_.load());
  standby_ = std::make_unique<StandbyServer>(
      listen, MakeServerCredentials(options_.coordinator.tls_cert, options_.coordinator.tls_key));
  absl::StatusOr<int> port = standby_->Start();
  if (!port.ok()) {
    standby_.reset();
    return port.status();
  }
  port_ = *port;
  if (absl::Status ops = StartStandbyOps(); !ops.ok()) {
    StopStandby();
    return ops;
  }
  return absl::OkStatus();
}

absl::Status CoordinatorNode::Start() {
  elector_ = std::make_unique<LeaderElector>(options_.election);
  if (absl::Status s = StartStandby(); !s.ok()) return s;
  LOG(INFO) << "coordinator node on port " << port_ << " (" << options_.election.holder
            << "): contending for leadership";
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void CoordinatorNode::Run() {
  while (!stopping_) {
    if (!standby_) {
      if (absl::Status s = StartStandby(); !s.ok()) {
        LOG(ERROR) << s;
        SleepUnless(stopping_, std::chrono::seconds(1));
        continue;
      }
    }
    if (!elector_->AcquireLock(stopping_).ok()) break;
    absl::Status term = Lead();
    if (absl::IsFailedPrecondition(term)) {
      LOG(ERROR) << "giving up: " << term;
      std::lock_guard<std::mutex> lock(mu_);
      fatal_ = term;
      break;
    }
    if (!term.ok() && !stopping_) {
      LOG(ERROR) << "standing by again: " << term;
      elector_->Resign();
      // Another standby may take over meanwhile; if the database is the
      // trouble, do not hammer it.
      SleepUnless(stopping_, options_.election.poll_interval);
    }
  }
  elector_->Resign();
  StopStandby();
}

absl::Status CoordinatorNode::Migrate() {
  PgPool::Options pool_options;
  pool_options.dsn = options_.coordinator.dsn;
  pool_options.size = 1;
  PgPool pool(pool_options);
  Migrator migrator(&pool, EmbeddedMigrations());
  auto migrated = migrator.Apply();
  if (!migrated.ok()) return migrated.status();
  LOG(INFO) << "schema at version " << migrated->current_version << " (" << migrated->applied.size()
            << " migration(s) applied now)";
  return absl::OkStatus();
}

absl::Status CoordinatorNode::Lead() {
  const auto t0 = SteadyClock::now();
  LOG(INFO) << "took the leader lock: taking over";
  if (options_.coordinator.migrate_on_start) {
    if (absl::Status s = Migrate(); !s.ok()) return s;
  }
  absl::StatusOr<int64_t> epoch = elector_->TakeEpoch();
  if (!epoch.ok()) return epoch.status();
  // The coordinator binds the same ports; the standby must let go first.
  StopStandby();
  CoordinatorOptions options = options_.coordinator;
  options.leader_epoch = *epoch;
  options.migrate_on_start = false;
  options.listen = absl::StrCat(host_, ":", port_.load());
  coordinator_ = std::make_unique<Coordinator>(options);
  if (absl::Status s = coordinator_->Start(); !s.ok()) {
    coordinator_.reset();
    return s;
  }
  ops_port_ = coordinator_->ops_port();
  elector_->StartWatch();
  ++terms_;
  leading_ = true;
  LOG(INFO)
      << "leading with epoch " << *epoch << " (took over in "
      << std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t0).count()
      << " ms)";
  while (!stopping_ && !elector_->Lost()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  leading_ = false;
  if (stopping_) {
    // Final throttler state under this epoch, then the lock goes.
    coordinator_->Shutdown(std::chrono::milliseconds(drain_ms_.load()));
    coordinator_.reset();
    elector_->Resign();
    return absl::OkStatus();
  }
  LOG(ERROR) << "deposed: epoch " << *epoch << " no longer leads; refusing every call at once";
  coordinator_->Depose();
  coordinator_.reset();
  return absl::AbortedError(absl::StrCat("leadership of epoch ", *epoch, " lost"));
}

absl::Status CoordinatorNode::fatal() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fatal_;
}

bool CoordinatorNode::WaitLeading(std::chrono::milliseconds timeout) const {
  const auto until = SteadyClock::now() + timeout;
  while (!leading_ && SteadyClock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return leading_;
}

void CoordinatorNode::Shutdown(std::chrono::milliseconds drain) {
  if (stopping_) return;
  drain_ms_ = drain.count();
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

}  // namespace sluice
