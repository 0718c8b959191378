// The per-call cost of what the coordinator's interceptors and role check do
// for each gRPC call, outside gRPC: nanoseconds per call, single thread.
//
//   metrics, by labels   what GrpcServerMetrics did per call until the
//                        series were resolved once: a lock and set lookup for
//                        the method, Family::Add with a label map for the
//                        started counter, the handled counter and the
//                        histogram (bucket boundaries copied), then the
//                        increments and the observation
//   metrics, resolved    what it does now: GrpcServerMetrics::SeriesFor (by
//                        the method name's address), Started, Handled
//   role check, before   the method recorder (a locked unordered_map of
//                        context -> (serial, std::string)), the rule lookup
//                        in a std::map keyed by a std::string built per call,
//                        and SHA-256 of the bearer token compared with each
//                        credential (CredentialSet::Find)
//   role check, now      the recorder's flat map of name addresses,
//                        RuleForMethod (one hash lookup) and the token
//                        compared with the last one found on this thread
//   sha256               Sha256 of a 43-character token alone
//
// The "before" figures replay the old code's steps here (it is gone); what
// gRPC itself spends to run interceptors at all is not here: perf's share of
// the coordinator under decision_bench shows it (README, the figures).
//
//   build/bench/grpc_interceptor_bench [--iterations=2000000]
#include <gflags/gflags.h>
#include <prometheus/registry.h>
#include <sodium.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>

#include "absl/container/flat_hash_map.h"
#include "common/credentials.h"
#include "common/metrics/grpc_server_metrics.h"
#include "common/metrics/metric_buckets.h"
#include "common/roles.h"

DEFINE_int64(iterations, 2000000, "calls timed per figure");

namespace {

using Clock = std::chrono::steady_clock;
volatile uint64_t sink = 0;

template <typename F>
double NanosPerCall(F&& f) {
  for (int64_t i = 0; i < FLAGS_iterations / 10; ++i) f(i);  // warm-up
  const auto t0 = Clock::now();
  for (int64_t i = 0; i < FLAGS_iterations; ++i) f(i);
  return std::chrono::duration<double, std::nano>(Clock::now() - t0).count() /
         static_cast<double>(FLAGS_iterations);
}

const char kMethod[] = "/sluice.v1.ThrottlerService/NextPermitted";
const char kToken[] = "0123456789abcdef0123456789abcdef0123456789a";

}  // namespace

int main(int argc, char** argv) {
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  if (sodium_init() < 0) return 1;
  using sluice::metrics::GrpcServerMetrics;

  // --- metrics, by labels (the per-call path before) ---------------------------
  prometheus::Registry old_registry;
  auto& started = prometheus::BuildCounter().Name("s").Help("s").Register(old_registry);
  auto& handled = prometheus::BuildCounter().Name("h").Help("h").Register(old_registry);
  auto& seconds = prometheus::BuildHistogram().Name("d").Help("d").Register(old_registry);
  std::mutex methods_mu;
  std::set<std::string> methods;
  const double by_labels = NanosPerCall([&](int64_t) {
    const std::string method(kMethod);  // the interceptor's copy
    auto labels = [&] {
      {
        std::lock_guard<std::mutex> lock(methods_mu);
        if (methods.count(method) == 0) methods.insert(method);
      }
      return GrpcServerMetrics::SplitMethod(method);
    };
    {
      auto [service, m] = labels();
      started.Add({{"grpc_service", service}, {"grpc_method", m}, {"grpc_type", "unary"}})
          .Increment();
    }
    auto [service, m] = labels();
    handled
        .Add({{"grpc_service", service},
              {"grpc_method", m},
              {"grpc_type", "unary"},
              {"grpc_code", "OK"}})
        .Increment();
    seconds
        .Add({{"grpc_service", service}, {"grpc_method", m}, {"grpc_type", "unary"}},
             prometheus::Histogram::BucketBoundaries(sluice::metrics::RpcSecondsBuckets()))
        .Observe(0.0001);
  });

  // --- metrics, resolved (now) ---------------------------------------------------
  prometheus::Registry registry;
  GrpcServerMetrics metrics(registry);
  const double resolved = NanosPerCall([&](int64_t) {
    GrpcServerMetrics::Series* s = metrics.SeriesFor(kMethod, "unary");
    s->Started();
    s->Handled(grpc::StatusCode::OK, 0.0001);
  });

  // --- role check, before ----------------------------------------------------------
  sluice::CredentialSet creds;
  if (!creds.AddSharedToken(kToken).ok()) return 1;
  std::mutex rec_mu;
  uint64_t serial = 0;
  std::unordered_map<const void*, std::pair<uint64_t, std::string>> calls;
  int contexts[64];
  const double role_before = NanosPerCall([&](int64_t i) {
    const void* ctx = &contexts[i % 64];
    uint64_t mine;
    {
      std::lock_guard<std::mutex> lock(rec_mu);
      mine = ++serial;
      calls[ctx] = {mine, kMethod};
    }
    std::string method;
    {
      std::lock_guard<std::mutex> lock(rec_mu);
      method = calls.find(ctx)->second.second;
    }
    const auto& table = sluice::MethodRoleTable();
    auto rule = table.find(std::string(method));
    const sluice::Principal* p = creds.Find(kToken);
    sink += (rule != table.end()) + (p != nullptr);
    {
      std::lock_guard<std::mutex> lock(rec_mu);
      auto it = calls.find(ctx);
      if (it != calls.end() && it->second.first == mine) calls.erase(it);
    }
  });

  // --- role check, now -------------------------------------------------------------
  absl::flat_hash_map<const void*, std::pair<uint64_t, const char*>> calls_now;
  std::string last_token;
  const sluice::Principal* last_principal = nullptr;
  const double role_now = NanosPerCall([&](int64_t i) {
    const void* ctx = &contexts[i % 64];
    uint64_t mine;
    {
      std::lock_guard<std::mutex> lock(rec_mu);
      mine = ++serial;
      calls_now[ctx] = {mine, kMethod};
    }
    const char* method;
    {
      std::lock_guard<std::mutex> lock(rec_mu);
      method = calls_now.find(ctx)->second.second;
    }
    const sluice::MethodRule rule = sluice::RuleForMethod(method);
    const size_t n = sizeof(kToken) - 1;
    const sluice::Principal* p;
    if (last_principal != nullptr && last_token.size() == n &&
        sodium_memcmp(last_token.data(), kToken, n) == 0) {
      p = last_principal;
    } else {
      p = creds.Find(kToken);
      last_token = kToken;
      last_principal = p;
    }
    sink += static_cast<int>(rule.access) + (p != nullptr);
    {
      std::lock_guard<std::mutex> lock(rec_mu);
      auto it = calls_now.find(ctx);
      if (it != calls_now.end() && it->second.first == mine) calls_now.erase(it);
    }
  });

  const double sha = NanosPerCall([&](int64_t) { sink += sluice::Sha256(kToken)[0]; });

  std::printf("per call, ns (single thread, %lld iterations):\n",
              static_cast<long long>(FLAGS_iterations));
  std::printf("  metrics, by labels (before)   %8.0f\n", by_labels);
  std::printf("  metrics, resolved (now)       %8.0f\n", resolved);
  std::printf("  role check (before)           %8.0f\n", role_before);
  std::printf("  role check (now)              %8.0f\n", role_now);
  std::printf("  sha256 of the token alone     %8.0f\n", sha);
  return 0;
}
