#include "server/coordinator.h"

#include <glog/logging.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include "common/coordinator_target.h"
#include "common/shutdown.h"
#include "db/migrations.h"
#include "server/coordinator_sql.h"
#include "server/leader/leader_elector.h"
#include "server/leader/standby_server.h"
#include "server/service/admin_service.h"
#include "server/service/agent_service.h"
#include "server/service/throttle_service.h"

namespace sluice {

Coordinator::Coordinator(CoordinatorOptions options) : options_(std::move(options)) {}

Coordinator::~Coordinator() { Shutdown(std::chrono::milliseconds(0)); }

absl::Status Coordinator::Start() {
  PgPool::Options pool_options;
  pool_options.dsn = options_.dsn;
  pool_options.size = options_.db_pool_size;
  if (options_.leader_epoch > 0) pool_options.on_connect = FenceSessions(options_.leader_epoch);
  pool_ = std::make_unique<PgPool>(pool_options);
  migrator_ = std::make_unique<Migrator>(pool_.get(), EmbeddedMigrations());
  if (options_.migrate_on_start) {
    auto migrated = migrator_->Apply();
    if (!migrated.ok()) return migrated.status();
    LOG(INFO) << "schema at version " << migrated->current_version << " ("
              << migrated->applied.size() << " migration(s) applied now)";
  }
  // Every task kind comes from a workflow module (the core ESI sync first),
  // into this coordinator's registries.
  modules_ = MakeWorkflowModules(options_.workflows);
  for (auto& module : modules_) {
    if (absl::Status s = module->RegisterKinds(kinds_, extensions_); !s.ok()) return s;
  }
  queue_store_ = std::make_unique<PgQueueStore>(pool_.get(), &kinds_, &extensions_);
  queue_store_->set_synchronous_claims(options_.synchronous_claims);
  metrics_ = std::make_unique<CoordinatorMetrics>();
  TaskQueueOptions queue_options = options_.queue;
  queue_options.observer = metrics_.get();
  queue_ = std::make_unique<TaskQueue>(queue_store_.get(), &kinds_, options_.clock, queue_options);
  auto authorizer = Authorizer::FromConfig(options_.auth_token, options_.auth_file);
  if (!authorizer.ok()) return authorizer.status();
  authorizer_ = std::move(*authorizer);
  // Job locks are taken on connections of their own to the same database.
  job_run_store_ = std::make_unique<JobRunStore>(pool_.get());
  scheduler_ = std::make_unique<Scheduler>(options_.dsn, job_run_store_.get(), options_.clock,
                                           options_.scheduler);

  // The throttler comes back with the budgets, restrictions and error-limit
  // state it had (no budget amnesia) before anything is served.
  state_store_ = std::make_unique<PgStateStore>(pool_.get());
  throttle::ThrottlerOptions throttle_options = options_.throttle;
  throttle_options.leader_epoch = options_.leader_epoch;
  throttler_ = std::make_unique<throttle::Throttler>(options_.clock, throttle_options);
  throttle::StatePersisterOptions persist;
  persist.interval = options_.throttle_persist_interval;
  persister_ =
      std::make_unique<throttle::StatePersister>(throttler_.get(), state_store_.get(), persist);
  if (absl::Status loaded = persister_->Load(); !loaded.ok()) {
    if (absl::IsUnavailable(loaded)) return loaded;
    LOG(ERROR) << "throttler state not restored, starting from conservative defaults: " << loaded;
  }
  persister_->Start();
  if (!options_.esi_openapi_file.empty()) {
    route_seeder_ = std::make_unique<throttle::EsiRouteSeeder>(
        throttler_.get(), options_.esi_openapi_file, options_.esi_openapi_poll);
    if (absl::Status seeded = route_seeder_->Start(); !seeded.ok()) return seeded;
  }
  std::vector<grpc::Service*> module_services;
  WorkflowWiring wiring;
  wiring.pool = pool_.get();
  wiring.queue = queue_.get();
  wiring.scheduler = scheduler_.get();
  wiring.clock = options_.clock;
  wiring.authorizer = authorizer_.get();
  wiring.throttler = throttler_.get();
  wiring.services = &module_services;
  for (auto& module : modules_) module->Wire(wiring);
  throttle_service_ = std::make_unique<ThrottleServiceImpl>(throttler_.get(), authorizer_.get());
  throttle_service_->SetReportListener(
      [m = metrics_.get()](const std::vector<throttle::Observation>& o) { m->ObserveReports(o); });
  agent_service_ = std::make_unique<AgentServiceImpl>(queue_.get(), authorizer_.get());
  admin_service_ = std::make_unique<AdminServiceImpl>(
      queue_.get(), migrator_.get(), scheduler_.get(), options_.clock, authorizer_.get());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(metrics_->grpc().MakeInterceptorFactory());
  authorizer_->Install(builder, std::move(interceptors));
  builder.AddListeningPort(options_.listen,
                           MakeServerCredentials(options_.tls_cert, options_.tls_key), &port_);
  builder.RegisterService(agent_service_.get());
  builder.RegisterService(admin_service_.get());
  builder.RegisterService(throttle_service_.get());
  for (grpc::Service* service : module_services) builder.RegisterService(service);
  builder.SetMaxReceiveMessageSize(64 << 20);
  // gRPC sets SO_REUSEPORT by default: a second coordinator on this host and
  // port would then share the connections instead of failing to bind.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  server_ = builder.BuildAndStart();
  if (!server_) return absl::UnavailableError("cannot listen on " + options_.listen);
  // The database answered during Start: serving from the first call (clients
  // that health-check would otherwise find the services unknown until the
  // health loop's first round). "sluice.leader" stays SERVING while this
  // coordinator runs: it leads (or runs alone), whatever its database does.
  SetHealth(true);
  server_->GetHealthCheckService()->SetServingStatus(kLeaderHealthService, true);
  LOG(INFO) << "coordinator serving on port " << port_
            << (authorizer_->enabled()
                    ? " (" + std::to_string(authorizer_->credentials().size()) + " credential(s))"
                    : " (no credentials: every call is admitted)")
            << (options_.tls_cert.empty() ? "" : " with TLS");
  health_thread_ = std::thread([this] { HealthLoop(); });
  if (!options_.ops_listen.empty()) {
    auto collect = [this] {
      OpsSnapshot s = CollectOpsSnapshot(queue_.get(), throttler_.get(), scheduler_.get(),
                                         pool_.get(), options_.clock);
      s.leader_epoch = options_.leader_epoch;
      s.claim_latency = metrics_->claim_latency();
      s.commit_latency = metrics_->commit_latency();
      return s;
    };
    // Readiness is one round trip to PostgreSQL: without it nothing can be
    // leased or committed.
    auto ready = [this] {
      OpsHttpServer::Readiness r;
      if (absl::Status s = PingDatabase(); !s.ok()) {
        r.ready = false;
        r.detail = "database unavailable: " + std::string(s.message());
      }
      return r;
    };
    ops_ = std::make_unique<OpsHttpServer>(collect, ready);
    for (auto& c : metrics_->Collectables()) ops_->AddMetrics(std::move(c));
    OpsHistoryOptions history;
    history.capacity = options_.ops_history_points;
    ops_history_ = std::make_unique<OpsHistory>(history);
    ops_->ServeHistory(ops_history_.get());
    ops_sampler_ =
        std::make_unique<OpsSampler>(collect, ops_history_.get(), options_.ops_history_interval);
    if (options_.ops_require_operator) {
      ops_->RequireAuthorization(
          [this](const std::string& header) { return authorizer_->IsOperator(header); });
    }
    auto bound = ops_->Start(options_.ops_listen);
    if (!bound.ok()) return bound.status();
    ops_port_ = *bound;
    ops_sampler_->Start();
  }
  for (auto& module : modules_) module->Start();
  // Last: a job may use everything above.
  scheduler_->Start();
  return absl::OkStatus();
}

absl::Status Coordinator::PingDatabase() {
  return pool_->Run([](pqxx::connection& conn) {
    pqxx::nontransaction nt(conn);
    nt.exec(coordinator_sql::kHealthProbe);
    return absl::OkStatus();
  });
}

void Coordinator::HealthLoop() {
  // Health follows the database: without it nothing can be leased or committed.
  // While it is reachable, this loop also folds the queue counters, checks
  // the queue's indexes and analyzes a queue that outgrew its statistics.
  bool last = true;
  while (!stopping_) {
    absl::Status s = PingDatabase();
    const bool serving = s.ok();
    if (serving) {
      // Keep the queue counters' pending changes few (status reads sum them).
      if (absl::Status folded = queue_->FoldCounts(); !folded.ok()) {
        LOG_EVERY_N(WARNING, 30) << "folding queue counts: " << folded;
      }
      if (absl::Status checked = queue_store_->CheckReadyIndex(); !checked.ok()) {
        LOG_EVERY_N(WARNING, 30) << "checking the ready index: " << checked;
      }
      if (auto analyzed = queue_store_->AnalyzeIfOutgrown(); !analyzed.ok()) {
        LOG_EVERY_N(WARNING, 30) << "checking the queue's statistics: " << analyzed.status();
      }
    }
    if (serving != last) {
      if (serving) {
        LOG(INFO) << "database reachable again";
      } else {
        LOG(ERROR) << "database unreachable: " << s;
      }
      last = serving;
    }
    if (!stopping_) SetHealth(serving);
    auto until = std::chrono::steady_clock::now() + options_.health_interval;
    while (!stopping_ && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

void Coordinator::SetHealth(bool serving) {
  auto* health = server_->GetHealthCheckService();
  // "" by name: SetServingStatus(bool) would set every name, "sluice.leader"
  // included, which must not follow the database.
  health->SetServingStatus("", serving);
  for (const std::string& service : SluiceHealthServices()) {
    health->SetServingStatus(service, serving);
  }
}

void Coordinator::Depose() {
  if (stopping_) return;
  if (throttle_service_) throttle_service_->Shutdown();
  if (server_) server_->Shutdown(std::chrono::system_clock::now());
  Shutdown(std::chrono::milliseconds(0));
}

void Coordinator::Shutdown(std::chrono::milliseconds drain) {
  if (stopping_.exchange(true)) return;
  // First: runs in progress still need the queue and the database.
  if (ops_sampler_) ops_sampler_->Stop();
  if (ops_) ops_->Stop();
  if (route_seeder_) route_seeder_->Stop();
  for (auto& module : modules_) module->Stop();
  if (scheduler_) scheduler_->Stop();
  if (queue_) queue_->Shutdown();
  // Revocation streams never end by themselves: close them first so the
  // server's drain waits only for unary calls.
  if (throttle_service_) throttle_service_->Shutdown();
  if (server_) {
    server_->GetHealthCheckService()->Shutdown();
    server_->Shutdown(std::chrono::system_clock::now() + drain);
  }
  if (health_thread_.joinable()) health_thread_.join();
  // Last: every reservation is settled in the final snapshot.
  if (persister_) {
    absl::Status saved = persister_->Stop();
    if (!saved.ok()) LOG(ERROR) << "final throttler snapshot not saved: " << saved;
  }
  LOG(INFO) << "coordinator stopped";
}

}  // namespace sluice
