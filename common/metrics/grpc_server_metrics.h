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
// A call costs no label lookup: the series of a (method, type) are resolved
// once (Series) and kept, found again by the address of the method name gRPC
// hands the interceptor (a registered method's name is one constant string),
// checked against the name itself; a status code's counter is made on its
// first use. What remains per call is two counter increments and one
// histogram observation (bench/grpc_interceptor_bench.cc measures it).
//
// Ownership: the families and the resolved series live here and in the
// registry given (it must outlive the server the interceptor is installed
// on). Thread-safety: the interceptors run on gRPC's threads; everything here
// is safe from any thread.
#ifndef SLUICE_COMMON_METRICS_GRPC_SERVER_METRICS_H_
#define SLUICE_COMMON_METRICS_GRPC_SERVER_METRICS_H_

#include <grpcpp/support/server_interceptor.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

namespace sluice::metrics {

class GrpcServerMetrics {
 public:
  static constexpr size_t kMaxMethods = 256;

  explicit GrpcServerMetrics(prometheus::Registry& registry);
  ~GrpcServerMetrics();

  // One per server; the metrics must outlive it.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeInterceptorFactory();

  // "/pkg.Service/Method" -> ("pkg.Service", "Method").
  static std::pair<std::string, std::string> SplitMethod(const std::string& full);
  static const char* CodeName(grpc::StatusCode code);

  // The series of one (method, type) as labelled, resolved once.
  class Series {
   public:
    void Started() { started_->Increment(); }
    void Handled(grpc::StatusCode code, double seconds);

   private:
    friend class GrpcServerMetrics;
    GrpcServerMetrics* owner_ = nullptr;
    std::string service_, method_;
    const char* type_ = "";
    prometheus::Counter* started_ = nullptr;
    prometheus::Histogram* seconds_ = nullptr;
    // By code (0..16, and 17 for any other); made on first use.
    std::array<std::atomic<prometheus::Counter*>, 18> handled_{};
  };

  // The series of `full_method` (nullptr: "") and `type` (a string literal):
  // by the name's address when seen before, else by the name.
  Series* SeriesFor(const char* full_method, const char* type);

  // What the interceptor records, by name (for tests and other callers).
  void Started(const std::string& full_method, const char* type);
  void Handled(const std::string& full_method, const char* type, grpc::StatusCode code,
               double seconds);

 private:
  Series* SeriesByNameLocked(const std::string& full_method, const char* type);
  prometheus::Counter* HandledCounter(Series* series, size_t slot, grpc::StatusCode code);

  std::mutex mu_;                  // guards everything below
  std::set<std::string> methods_;  // full names seen (at most kMaxMethods)
  // (labelled service/method, type) -> series; owned.
  std::map<std::pair<std::string, std::string>, std::unique_ptr<Series>> series_;
  // (full name as labelled before the cap, type) -> series.
  std::map<std::pair<std::string, std::string>, Series*> by_name_;
  // Address of a method name gRPC gave -> its series (checked against the
  // name on each use: an address may be reused for another name). Bounded.
  struct ByAddress {
    Series* series;
    std::string full_method;
    const char* type;
  };
  std::unordered_map<const char*, ByAddress> by_address_;
  prometheus::Family<prometheus::Counter>& started_;
  prometheus::Family<prometheus::Counter>& handled_;
  prometheus::Family<prometheus::Histogram>& seconds_;
};

}  // namespace sluice::metrics

#endif  // SLUICE_COMMON_METRICS_GRPC_SERVER_METRICS_H_
