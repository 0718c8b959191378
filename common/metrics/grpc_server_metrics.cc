#include "common/metrics/grpc_server_metrics.h"

#include <chrono>

#include "common/metrics/metric_buckets.h"

namespace sluice::metrics {
namespace {

using grpc::experimental::InterceptionHookPoints;

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
      : metrics_(metrics),
        method_(info->method() ? info->method() : ""),
        type_(TypeName(info->type())),
        start_(std::chrono::steady_clock::now()) {
    metrics_->Started(method_, type_);
  }
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      metrics_->Handled(method_, type_, methods->GetSendStatus().error_code(), seconds);
    }
    methods->Proceed();
  }

 private:
  GrpcServerMetrics* const metrics_;
  const std::string method_;
  const char* const type_;
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

std::pair<std::string, std::string> GrpcServerMetrics::Labels(const std::string& full_method) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (methods_.count(full_method) == 0) {
      if (methods_.size() >= kMaxMethods) return {"other", "other"};
      methods_.insert(full_method);
    }
  }
  return SplitMethod(full_method);
}

void GrpcServerMetrics::Started(const std::string& full_method, const char* type) {
  auto [service, method] = Labels(full_method);
  started_.Add({{"grpc_service", service}, {"grpc_method", method}, {"grpc_type", type}})
      .Increment();
}

void GrpcServerMetrics::Handled(const std::string& full_method, const char* type,
                                grpc::StatusCode code, double seconds) {
  auto [service, method] = Labels(full_method);
  handled_
      .Add({{"grpc_service", service},
            {"grpc_method", method},
            {"grpc_type", type},
            {"grpc_code", CodeName(code)}})
      .Increment();
  seconds_
      .Add({{"grpc_service", service}, {"grpc_method", method}, {"grpc_type", type}},
           prometheus::Histogram::BucketBoundaries(RpcSecondsBuckets()))
      .Observe(seconds);
}

}  // namespace sluice::metrics
