// The ceiling of a unary decision over gRPC on this machine: a
// sluice.v1.ThrottlerService that decides nothing. NextPermitted, Acquire and
// Report are answered at once with an empty OK from the callback API (as
// ThrottleServiceImpl answers), with no interceptor, no authorization and
// no throttler; every other method is UNIMPLEMENTED. What decision_bench
// measures against it is what gRPC 1.51 (C++, HTTP/2 over loopback TCP)
// and the kernel cost per call, the rate no unary service could pass with
// the same client.
//
// --async_threads=N serves NextPermitted and Acquire on the completion-queue
// API instead, from N threads of its own (Report stays on the callback API
// unless --only_async): to see what the callback API's own threads (two
// "nexting" threads on Linux, handing the poller role to each other) cost.
//
//   build/bench/grpc_ceiling_server --listen=127.0.0.1:50099 [--async_threads=1 [--only_async]]
//       [--channel_args=grpc.minimal_stack=1,...]
//   build/bench/decision_bench --mode=target --target=127.0.0.1:50099 --async --clients=8
//
// bench/decision_costs.sh starts it beside Redis and the coordinator.
// Runs until SIGTERM/SIGINT.
#include <gflags/gflags.h>
#include <glog/logging.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <csignal>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/channel_args_flag.h"
#include "common/env_flags.h"
#include "sluice/v1/throttle.grpc.pb.h"

DEFINE_string(listen, "127.0.0.1:0", "host:port to serve on (port 0: any free port)");
DEFINE_int32(async_threads, 0,
             "0: NextPermitted/Acquire on the callback API; N > 0: on the completion-queue API, "
             "N completion queues with one thread each");
DEFINE_bool(only_async, false,
            "with --async_threads: every method on the completion-queue API (Report too), so no "
            "callback-API thread polls");
DEFINE_string(channel_args, "",
              "server channel arguments, name=value,... (e.g. grpc.minimal_stack=1: no deadline, "
              "message size or compression filters)");

namespace {

namespace v1 = sluice::v1;

class EmptyThrottler final : public v1::ThrottlerService::CallbackService {
 public:
  grpc::ServerUnaryReactor* NextPermitted(grpc::CallbackServerContext* context,
                                          const v1::NextPermittedRequest*,
                                          v1::NextPermittedResponse*) override {
    return Ok(context);
  }
  grpc::ServerUnaryReactor* Acquire(grpc::CallbackServerContext* context, const v1::AcquireRequest*,
                                    v1::AcquireResponse* response) override {
    response->set_granted(true);
    return Ok(context);
  }
  grpc::ServerUnaryReactor* Report(grpc::CallbackServerContext* context, const v1::ReportRequest*,
                                   v1::ReportResponse*) override {
    return Ok(context);
  }

 private:
  static grpc::ServerUnaryReactor* Ok(grpc::CallbackServerContext* context) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

// NextPermitted and Acquire on the completion-queue API, Report on the
// callback API (the generated wrappers mark methods in order: async first,
// from a synchronous base, then callback).
using MixedService = v1::ThrottlerService::WithCallbackMethod_Report<
    v1::ThrottlerService::WithAsyncMethod_NextPermitted<
        v1::ThrottlerService::WithAsyncMethod_Acquire<v1::ThrottlerService::Service>>>;

class MixedThrottler final : public MixedService {
 public:
  grpc::ServerUnaryReactor* Report(grpc::CallbackServerContext* context, const v1::ReportRequest*,
                                   v1::ReportResponse*) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

// One call in flight through a completion queue: requested, answered, freed.
class AsyncCall {
 public:
  virtual ~AsyncCall() = default;
  virtual void Proceed(bool ok) = 0;
};

// Every method on the completion-queue API; only three are ever answered
// (a call of any other method waits until its deadline).
class AsyncThrottler final : public v1::ThrottlerService::AsyncService {};

template <typename Service, typename Request, typename Response, auto RequestMethod>
class UnaryCall final : public AsyncCall {
 public:
  UnaryCall(Service* service, grpc::ServerCompletionQueue* cq)
      : service_(service), cq_(cq), writer_(&context_) {
    (service_->*RequestMethod)(&context_, &request_, &writer_, cq_, cq_, this);
  }
  void Proceed(bool ok) override {
    if (answered_ || !ok) {
      delete this;
      return;
    }
    new UnaryCall(service_, cq_);  // the next call of this method
    answered_ = true;
    writer_.Finish(response_, grpc::Status::OK, this);
  }

 private:
  Service* const service_;
  grpc::ServerCompletionQueue* const cq_;
  grpc::ServerContext context_;
  Request request_;
  Response response_;
  grpc::ServerAsyncResponseWriter<Response> writer_;
  bool answered_ = false;
};

// Requests the first call of each answered method, then answers until the
// queue shuts down.
template <typename Service, bool kReport>
void Drive(Service* service, grpc::ServerCompletionQueue* cq) {
  new UnaryCall<Service, v1::NextPermittedRequest, v1::NextPermittedResponse,
                &Service::RequestNextPermitted>(service, cq);
  new UnaryCall<Service, v1::AcquireRequest, v1::AcquireResponse, &Service::RequestAcquire>(service,
                                                                                            cq);
  if constexpr (kReport) {
    new UnaryCall<Service, v1::ReportRequest, v1::ReportResponse, &Service::RequestReport>(service,
                                                                                           cq);
  }
  void* tag = nullptr;
  bool ok = false;
  while (cq->Next(&tag, &ok)) static_cast<AsyncCall*>(tag)->Proceed(ok);
}

volatile std::sig_atomic_t g_stop = 0;

}  // namespace

int main(int argc, char** argv) {
  sluice::InitProcess(&argc, &argv, "an empty ThrottlerService: the ceiling of unary gRPC", {});
  EmptyThrottler callback_service;
  MixedThrottler mixed_service;
  AsyncThrottler async_service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(FLAGS_listen, grpc::InsecureServerCredentials(), &port);
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> cqs;
  if (FLAGS_async_threads > 0) {
    if (FLAGS_only_async) {
      builder.RegisterService(&async_service);
    } else {
      builder.RegisterService(&mixed_service);
    }
    for (int i = 0; i < FLAGS_async_threads; ++i) cqs.push_back(builder.AddCompletionQueue());
  } else {
    builder.RegisterService(&callback_service);
  }
  absl::StatusOr<std::vector<sluice::bench::ChannelArg>> args =
      sluice::bench::ParseChannelArgs(FLAGS_channel_args);
  if (!args.ok()) {
    LOG(ERROR) << "--channel_args: " << args.status();
    return 2;
  }
  sluice::bench::ApplyChannelArgs(*args, &builder);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    LOG(ERROR) << "cannot listen on " << FLAGS_listen;
    return 1;
  }
  std::vector<std::thread> threads;
  for (auto& cq : cqs) {
    if (FLAGS_only_async) {
      threads.emplace_back(Drive<AsyncThrottler, true>, &async_service, cq.get());
    } else {
      threads.emplace_back(Drive<MixedThrottler, false>, &mixed_service, cq.get());
    }
  }
  LOG(INFO) << "ceiling server serving on port " << port;
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  std::signal(SIGINT, [](int) { g_stop = 1; });
  while (!g_stop) pause();
  server->Shutdown();
  for (auto& cq : cqs) cq->Shutdown();
  for (auto& t : threads) t.join();
  return 0;
}
