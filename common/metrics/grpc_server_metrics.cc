#include "common/metrics/grpc_server_metrics.h"

#include <chrono>
#include <cstring>

#include "common/metrics/metric_buckets.h"

namespace sluice::metrics {
namespace {

using grpc::experimental::InterceptionHookPoints;

// Addresses of method names remembered; past it, names are looked up by
// value (a server's own methods are far fewer).
constexpr size_t kMaxAddresses = 4 * GrpcServerMetrics::kMaxMethods;

const char* TypeName(grpc::experimental::ServerRpcInfo::Type type) {
  using Type = grpc::experimental::ServerRpcInfo::Type;
  switch (type) {
    case Type::UNARY:
      return "unary";
    case Type::CLIENT_STREAMING:
      return "client_stream";
    case Type::SERVER_STREAMING:
      return "server_stream";
    case Type::BIDI_STREAMING:
      return "bidi_stream";
  }
  return "unknown";
}

class MetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  MetricsInterceptor(GrpcServerMetrics* metrics, grpc::experimental::ServerRpcInfo* info)
      : series_(metrics->SeriesFor(info->method(), TypeName(info->type()))),
        start_(std::chrono::steady_clock::now()) {
    series_->Started();
  }
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      series_->Handled(methods->GetSendStatus().error_code(), seconds);
    }
    methods->Proceed();
  }

 private:
  GrpcServerMetrics::Series* const series_;
  const std::chrono::steady_clock::time_point start_;
};

class MetricsFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsFactory(GrpcServerMetrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new MetricsInterceptor(metrics_, info);
  }

 private:
  GrpcServerMetrics* const metrics_;
};

}  // namespace

GrpcServerMetrics::GrpcServerMetrics(prometheus::Registry& registry)
    : started_(prometheus::BuildCounter()
                   .Name("grpc_server_started_total")
                   .Help("gRPC calls started on the server, by method.")
                   .Register(registry)),
      handled_(prometheus::BuildCounter()
                   .Name("grpc_server_handled_total")
                   .Help("gRPC calls completed on the server, by method and status code.")
                   .Register(registry)),
      seconds_(prometheus::BuildHistogram()
                   .Name("grpc_server_handling_seconds")
                   .Help("Time from a gRPC call's arrival to its status being sent, by method.")
                   .Register(registry)) {}

GrpcServerMetrics::~GrpcServerMetrics() = default;

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
GrpcServerMetrics::MakeInterceptorFactory() {
  return std::make_unique<MetricsFactory>(this);
}

std::pair<std::string, std::string> GrpcServerMetrics::SplitMethod(const std::string& full) {
  const size_t slash = full.rfind('/');
  if (slash == std::string::npos || slash == 0) return {"unknown", full};
  const size_t begin = full[0] == '/' ? 1 : 0;
  return {full.substr(begin, slash - begin), full.substr(slash + 1)};
}

const char* GrpcServerMetrics::CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "Canceled";
    case grpc::StatusCode::UNKNOWN: return "Unknown";
    case grpc::StatusCode::INVALID_ARGUMENT: return "InvalidArgument";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DeadlineExceeded";
    case grpc::StatusCode::NOT_FOUND: return "NotFound";
    case grpc::StatusCode::ALREADY_EXISTS: return "AlreadyExists";
    case grpc::StatusCode::PERMISSION_DENIED: return "PermissionDenied";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "ResourceExhausted";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FailedPrecondition";
    case grpc::StatusCode::ABORTED: return "Aborted";
    case grpc::StatusCode::OUT_OF_RANGE: return "OutOfRange";
    case grpc::StatusCode::UNIMPLEMENTED: return "Unimplemented";
    case grpc::StatusCode::INTERNAL: return "Internal";
    case grpc::StatusCode::UNAVAILABLE: return "Unavailable";
    case grpc::StatusCode::DATA_LOSS: return "DataLoss";
    case grpc::StatusCode::UNAUTHENTICATED: return "Unauthenticated";
    default: return "Unknown";
  }
}

GrpcServerMetrics::Series* GrpcServerMetrics::SeriesFor(const char* full_method,
                                                        const char* type) {
  const char* name = full_method == nullptr ? "" : full_method;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_address_.find(name);
  if (it != by_address_.end() && it->second.type == type && it->second.full_method == name) {
    return it->second.series;
  }
  Series* series = SeriesByNameLocked(name, type);
  if (it != by_address_.end()) {
    it->second = {series, name, type};
  } else if (by_address_.size() < kMaxAddresses) {
    by_address_.emplace(name, ByAddress{series, name, type});
  }
  return series;
}

GrpcServerMetrics::Series* GrpcServerMetrics::SeriesByNameLocked(const std::string& full_method,
                                                                 const char* type) {
  auto named = by_name_.find({full_method, type});
  if (named != by_name_.end()) return named->second;
  const bool counted = methods_.count(full_method) != 0 || methods_.size() < kMaxMethods;
  std::pair<std::string, std::string> labels("other", "other");
  if (counted) {
    methods_.insert(full_method);
    labels = SplitMethod(full_method);
  }
  std::unique_ptr<Series>& slot = series_[{labels.first + "/" + labels.second, type}];
  if (slot == nullptr) {
    slot = std::make_unique<Series>();
    slot->owner_ = this;
    slot->service_ = labels.first;
    slot->method_ = labels.second;
    slot->type_ = type;
    slot->started_ = &started_.Add(
        {{"grpc_service", labels.first}, {"grpc_method", labels.second}, {"grpc_type", type}});
    slot->seconds_ = &seconds_.Add(
        {{"grpc_service", labels.first}, {"grpc_method", labels.second}, {"grpc_type", type}},
        prometheus::Histogram::BucketBoundaries(RpcSecondsBuckets()));
  }
  // Names past the cap all share "other" and are not remembered one by one.
  if (counted) by_name_.emplace(std::make_pair(full_method, std::string(type)), slot.get());
  return slot.get();
}

prometheus::Counter* GrpcServerMetrics::HandledCounter(Series* series, size_t slot,
                                                       grpc::StatusCode code) {
  std::lock_guard<std::mutex> lock(mu_);
  prometheus::Counter* c = series->handled_[slot].load(std::memory_order_acquire);
  if (c != nullptr) return c;
  c = &handled_.Add({{"grpc_service", series->service_},
                     {"grpc_method", series->method_},
                     {"grpc_type", series->type_},
                     {"grpc_code", CodeName(code)}});
  series->handled_[slot].store(c, std::memory_order_release);
  return c;
}

void GrpcServerMetrics::Series::Handled(grpc::StatusCode code, double seconds) {
  const int value = static_cast<int>(code);
  const size_t slot = value >= 0 && value <= 16 ? static_cast<size_t>(value) : 17;
  prometheus::Counter* c = handled_[slot].load(std::memory_order_acquire);
  if (c == nullptr) c = owner_->HandledCounter(this, slot, code);
  c->Increment();
  seconds_->Observe(seconds);
}

void GrpcServerMetrics::Started(const std::string& full_method, const char* type) {
  Series* series;
  {
    std::lock_guard<std::mutex> lock(mu_);
    series = SeriesByNameLocked(full_method, type);
  }
  series->Started();
}

void GrpcServerMetrics::Handled(const std::string& full_method, const char* type,
                                grpc::StatusCode code, double seconds) {
  Series* series;
  {
    std::lock_guard<std::mutex> lock(mu_);
    series = SeriesByNameLocked(full_method, type);
  }
  series->Handled(code, seconds);
}

}  // namespace sluice::metrics
