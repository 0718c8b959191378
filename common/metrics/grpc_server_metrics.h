// GrpcServerMetrics measures every call a gRPC server handles, under the
// names go-grpc-prometheus made common (so stock dashboards work):
//   grpc_server_started_total{grpc_service, grpc_method, grpc_type}
//   grpc_server_handled_total{grpc_service, grpc_method, grpc_type, grpc_code}
//   grpc_server_handling_seconds{grpc_service, grpc_method, grpc_type}
//     (a histogram, kRpcSeconds buckets: from the call's arrival to its
//     status being sent; a long-polling LeaseTasks counts its wait)
// through a server interceptor (MakeInterceptorFactory) installed on the
// builder. grpc_code is the status code's name (OK, Unavailable, ...). The
// series are bounded whatever clients send: a server's own methods are few,
// and past kMaxMethods distinct names (a client calling made-up methods)
// further ones are counted as grpc_service="other", grpc_method="other".
//
// Ownership: the families live in the registry given (it must outlive the
// server the interceptor is installed on). Thread-safety: the interceptors
// run on gRPC's threads; everything here is safe from any thread.
#ifndef SLUICE_COMMON_METRICS_GRPC_SERVER_METRICS_H_
#define SLUICE_COMMON_METRICS_GRPC_SERVER_METRICS_H_

#include <grpcpp/support/server_interceptor.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>

namespace sluice::metrics {

class GrpcServerMetrics {
 public:
  static constexpr size_t kMaxMethods = 256;

  explicit GrpcServerMetrics(prometheus::Registry& registry);

  // One per server; the metrics must outlive it.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeInterceptorFactory();

  // "/pkg.Service/Method" -> ("pkg.Service", "Method").
  static std::pair<std::string, std::string> SplitMethod(const std::string& full);
  static const char* CodeName(grpc::StatusCode code);

  // What the interceptor records (public for it and for tests).
  void Started(const std::string& full_method, const char* type);
  void Handled(const std::string& full_method, const char* type, grpc::StatusCode code,
               double seconds);

 private:
  // (service, method) as labelled: itself, or ("other", "other") past the cap.
  std::pair<std::string, std::string> Labels(const std::string& full_method);

  std::mutex mu_;                // guards methods_
  std::set<std::string> methods_;  // full names seen
  prometheus::Family<prometheus::Counter>& started_;
  prometheus::Family<prometheus::Counter>& handled_;
  prometheus::Family<prometheus::Histogram>& seconds_;
};

}  // namespace sluice::metrics

#endif  // SLUICE_COMMON_METRICS_GRPC_SERVER_METRICS_H_
