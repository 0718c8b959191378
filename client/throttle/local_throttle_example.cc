// Deciding locally with LocalThrottle: takes --calls tokens for one route
// from a coordinator, waiting as the throttler says, and prints how many
// decisions per second the process made. Each granted token stands for one
// upstream call; a real program makes the call and reports its status and
// headers (LocalThrottle::Report). This example makes no call and reports
// nothing: the throttler then charges each token as a call made at its
// worst cost until the lease lapses (35 s), which is safe but spends budget.
//
//   local_throttle_example --target=127.0.0.1:50051 --upstream=poe \
//       --route=/character-window/get-items [--calls=1000000] [--auth_token=...]
#include <gflags/gflags.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "client/throttle/local_throttle.h"
#include "common/clock.h"
#include "common/env_flags.h"
#include "common/grpc_security.h"
#include "common/time_util.h"

DEFINE_string(target, "127.0.0.1:50051", "coordinator host:port");
DEFINE_string(auth_token, "", "bearer token (env SLUICE_AUTH_TOKEN)");
DEFINE_string(upstream, "poe", "esi | poe");
DEFINE_string(route, "/example", "path template of the route");
DEFINE_string(caller, "", "whom the calls are billed to, e.g. char:90000001");
DEFINE_int64(calls, 100000, "tokens to take");

int main(int argc, char** argv) {
  sluice::InitProcess(&argc, &argv, "decide rate limits locally with LocalThrottle",
                      {{"auth_token", "SLUICE_AUTH_TOKEN"}});
  sluice::ClientOptions rpc{FLAGS_target, "", FLAGS_auth_token};
  sluice::client::LocalThrottleOptions options;
  options.client_id = "example-" + std::to_string(::getpid());
  options.rpc = rpc;
  sluice::SystemClock clock;
  sluice::client::LocalThrottle throttle(options, sluice::MakeChannel(rpc), &clock);
  if (absl::Status s = throttle.Start(); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  const sluice::client::Route route{FLAGS_upstream, FLAGS_route, FLAGS_caller};
  int64_t granted = 0, refused = 0;
  const auto t0 = std::chrono::steady_clock::now();
  while (granted < FLAGS_calls) {
    sluice::client::LocalThrottle::Decision d = throttle.Acquire(route);
    if (!d.granted) {
      ++refused;
      std::this_thread::sleep_for(
          std::min<sluice::Duration>(d.retry_at - clock.Now(), std::chrono::seconds(1)));
      continue;
    }
    ++granted;  // a real program makes the call here, then Reports it
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  throttle.Shutdown();
  const auto stats = throttle.stats();
  std::printf("%lld decisions in %.3f s: %.0f/s; %lld refusals waited out; %lld leases\n",
              static_cast<long long>(granted), s, granted / s, static_cast<long long>(refused),
              static_cast<long long>(stats.lease_calls));
  return 0;
}
