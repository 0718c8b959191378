#include "tests/support/loopback_throttler.h"

namespace sluice::testing {

LoopbackThrottler::LoopbackThrottler(const Clock* clock, throttle::ThrottlerOptions options,
                                     const std::string& token) {
  throttler_ = std::make_unique<throttle::Throttler>(clock, options);
  authorizer_ = std::make_unique<Authorizer>(token);
  service_ = std::make_unique<ThrottleServiceImpl>(throttler_.get(), authorizer_.get());
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  if (server_ && port > 0) {
    target_ = "127.0.0.1:" + std::to_string(port);
  } else {
    server_.reset();
  }
}

LoopbackThrottler::~LoopbackThrottler() { Shutdown(); }

void LoopbackThrottler::Shutdown(std::chrono::milliseconds drain) {
  if (stopped_) return;
  stopped_ = true;
  service_->Shutdown();
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + drain);
}

std::shared_ptr<grpc::Channel> LoopbackThrottler::NewChannel() const {
  return grpc::CreateChannel(target_, grpc::InsecureChannelCredentials());
}

}  // namespace sluice::testing
