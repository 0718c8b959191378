// Decision cost of the global throttler over loopback gRPC: requests per
// second and latency (p50/p90/p99/max) of ThrottlerService.NextPermitted and
// ThrottlerService.Acquire from --clients concurrent clients, each a closed
// loop of synchronous unary calls on its OWN channel (a private subchannel
// pool and a distinct channel argument, so every client has its own TCP
// connection, as separate processes would). Each op runs --warmup_s
// (unmeasured) then --duration_s (measured; a call counts if it started in
// the measured interval).
//
// The reference to compare with: a Redis GCRA limiter on the same machine.
// bench/decision_anchor.sh measures both with one client shape (one process,
// 8 connections, 1 call in flight each: --mode=target --async --clients=8)
// and prints the ratios; the goal is Sluice / Redis >= 1 with p99 <= 1 ms.
//
// Route: upstream "poe", route "/bench/decision". Before measuring, one
// Report teaches the throttler a policy with one non-IP rule of
// --budget_hits hits per second, large enough that every Acquire (n=1,
// max_wait 0) in the run is granted: a granted, never-reported Acquire holds
// its hit until the lease lapses (lease ttl + max request duration + grace,
// ~37 s), so the budget must cover rate x 37 s. Refusals would still be
// decisions; the output says how many there were. NextPermitted reserves
// nothing. The open leases the Acquire phase leaves behind are part of what
// the throttler carries while it decides (and persists every 500 ms).
//
// Besides rps and latency, each op line gives the CPU this process used in
// the measured interval (in-process: the coordinator, plus the client threads
// unless --procs) per decision, and how busy the whole machine was, since
// the machine may be shared.
//
// Modes:
//   --mode=inprocess  starts a Coordinator in this process (needs --dsn /
//                     SLUICE_DSN; the throttler state persisted there is
//                     deleted first: use a scratch database). Clients and
//                     server share the cores.
//   --mode=target     measures a running coordinator at --target=host:port
//                     (--auth_token / SLUICE_AUTH_TOKEN if it wants one).
//   --procs=N         N client processes (this binary re-executed, one client
//                     each) instead of --clients threads: the reference's
//                     shape. Results come back over pipes.
//   --async           ONE client thread keeps --clients unary calls in flight
//                     (each on its own channel/connection) through a gRPC
//                     CompletionQueue: the shape of redis-benchmark -c 8 -P 1
//                     (one process, one event loop, 8 connections with one
//                     request in flight each), what bench/decision_anchor.sh
//                     compares with Redis.
//   --callback        with --async: the same shape on gRPC's callback client
//                     API (stub->async()), each call issued from the previous
//                     one's completion (next_permitted and acquire only).
//   --result_line     also prints one line per op: RESULT {json}, for
//                     bench/decision_anchor.sh.
//
// Ops (--ops, in order): next_permitted, acquire (unary); with --async also
// next_permitted_batch, acquire_batch (--batch items per message, each a
// decision; latency is per message); decide (--streams Decide streams with
// --window requests in flight each, one decision per message); and
// local_acquire, local_next_permitted (client::LocalThrottle in this
// process, --local_threads threads, deciding from tokens leased in bulk from
// the target; latency sampled). Decisions/s counts items, not messages.
//
//   eval "$(scripts/pg_throwaway.sh start)"
//   build-bench/bench/decision_bench --mode=inprocess [--clients=8] [--duration_s=20]
//   build-bench/bench/decision_bench --mode=inprocess --procs=8
//   build-bench/bench/decision_bench --mode=target --target=127.0.0.1:50051
//   build-bench/bench/decision_bench --mode=target --target=127.0.0.1:50051 --async --clients=8
#include <fcntl.h>
#include <gflags/gflags.h>
#include <glog/logging.h>
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "bench/bench_util.h"
#include "bench/channel_args_flag.h"
#include "client/throttle/local_throttle.h"
#include "common/env_flags.h"
#include "common/grpc_security.h"
#include "common/time_util.h"
#include "server/coordinator.h"
#include "server/throttle/throttle_state.h"
#include "sluice/v1/throttle.grpc.pb.h"

DEFINE_string(mode, "inprocess", "inprocess | target");
DEFINE_string(dsn, "", "PostgreSQL DSN for --mode=inprocess (env SLUICE_DSN)");
DEFINE_string(target, "", "coordinator host:port for --mode=target");
DEFINE_string(auth_token, "", "bearer token of the target coordinator (env SLUICE_AUTH_TOKEN)");
DEFINE_int32(clients, 8, "concurrent client threads, each with its own channel");
DEFINE_int32(procs, 0, "if > 0: this many client processes (one client each) instead of threads");
DEFINE_bool(async, false,
            "one client thread keeping --clients calls in flight (a CompletionQueue) instead of "
            "--clients threads");
DEFINE_bool(callback, false,
            "with --async: next_permitted and acquire from gRPC's callback client API (one "
            "process, --clients calls in flight, each re-issued from its completion callback) "
            "instead of a CompletionQueue");
DEFINE_bool(
    result_line, false,
    "also print one machine-readable line per op: RESULT {json} (bench/decision_anchor.sh)");
DEFINE_int32(duration_s, 20, "measured seconds per op");
DEFINE_int32(warmup_s, 2, "unmeasured seconds before each op's measurement");
DEFINE_string(ops, "next_permitted,acquire", "ops to measure, in order");
DEFINE_int32(direct_s, 2,
             "inprocess: also time the Throttler's own NextPermitted/Acquire (no gRPC) for this "
             "many seconds per op after the gRPC ops; 0 = skip");
DEFINE_int64(budget_hits, 100000000, "hits per second the throttler learns for the bench route");
DEFINE_int32(batch, 100, "items per message of next_permitted_batch / acquire_batch (1..1000)");
DEFINE_int32(streams, 1, "decide: Decide streams, each on its own channel");
DEFINE_int32(window, 128, "decide: requests in flight per stream");
DEFINE_string(channel_args, "",
              "client channel arguments of the gRPC ops, name=value,... (e.g. "
              "grpc.minimal_stack=1)");
DEFINE_int32(local_threads, 1, "local_*: threads deciding in this process");
DEFINE_int32(local_refill_below, 500, "local_*: lease ahead once fewer tokens than this are held");
DEFINE_int32(local_refill_parallel, 4, "local_*: LeaseTokens calls in flight when leasing ahead");
// Internal: set by the parent when it re-executes itself as a client process.
DEFINE_string(child_op, "", "internal: run one client of this op and print its result");
DEFINE_int64(child_start_ns, 0, "internal: steady-clock start of the warm-up, ns");
DEFINE_int32(child_index, 0, "internal: client index");

namespace {

using namespace sluice;
using Steady = std::chrono::steady_clock;

constexpr char kUpstream[] = "poe";
constexpr char kRoute[] = "/bench/decision";
constexpr char kPolicy[] = "bench-decision";

using bench::ClearThrottleState;
using bench::LoadAverage;

// CPU time of this process and busy time of the whole machine, to tell what
// a decision costs apart from what the shared machine was doing meanwhile.
struct CpuSample {
  double process_s = 0;  // user + system of this process (all threads)
  int64_t switches = 0;  // its voluntary + involuntary context switches
  double busy_s = 0;     // all CPUs, not idle/iowait
  double total_s = 0;    // all CPUs
};

CpuSample SampleCpu() {
  CpuSample s;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  s.process_s = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
                ru.ru_stime.tv_usec / 1e6;
  s.switches = ru.ru_nvcsw + ru.ru_nivcsw;
  std::ifstream in("/proc/stat");
  std::string cpu;
  in >> cpu;
  std::vector<double> f;
  double v;
  for (int i = 0; i < 8 && in >> v; ++i) f.push_back(v);
  const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  for (size_t i = 0; i < f.size(); ++i) {
    s.total_s += f[i] / hz;
    if (i != 3 && i != 4) s.busy_s += f[i] / hz;  // 3 idle, 4 iowait
  }
  return s;
}

// Samples at the start and end of the measured interval (call from a thread
// that is not a client).
struct CpuWindow {
  CpuSample from, to;
  void Measure(Steady::time_point measure_from, Steady::time_point measure_to) {
    std::this_thread::sleep_until(measure_from);
    from = SampleCpu();
    std::this_thread::sleep_until(measure_to);
    to = SampleCpu();
  }
  double ProcessCores(double seconds) const { return (to.process_s - from.process_s) / seconds; }
  int64_t Switches() const { return to.switches - from.switches; }
  double MachineBusyCores() const {
    const double total = to.total_s - from.total_s;
    return total > 0 ? (to.busy_s - from.busy_s) / total * std::thread::hardware_concurrency() : 0;
  }
};

// Latency histogram: 1 us buckets below 10 ms, 100 us buckets up to 1 s,
// one overflow bucket; the exact maximum is kept aside.
class Histogram {
 public:
  static constexpr int64_t kFineNs = 1000;
  static constexpr int64_t kFineBuckets = 10000;
  static constexpr int64_t kCoarseNs = 100000;
  static constexpr int64_t kCoarseBuckets = 9900;

  Histogram() : counts_(kFineBuckets + kCoarseBuckets + 1, 0) {}

  void Add(int64_t ns) {
    counts_[Index(ns)]++;
    max_ns_ = std::max(max_ns_, ns);
    total_++;
  }
  void Merge(const Histogram& o) {
    for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += o.counts_[i];
    max_ns_ = std::max(max_ns_, o.max_ns_);
    total_ += o.total_;
  }
  int64_t total() const { return total_; }
  double MaxMs() const { return max_ns_ / 1e6; }
  // Upper edge of the bucket holding the p-quantile, in ms.
  double PercentileMs(double p) const {
    if (total_ == 0) return 0;
    const int64_t rank = std::max<int64_t>(1, static_cast<int64_t>(p * total_ + 0.999999));
    int64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(UpperNs(i), max_ns_) / 1e6;
    }
    return MaxMs();
  }
  // "max total i:n i:n ..." (non-empty buckets only).
  std::string Serialize() const {
    std::string out = absl::StrCat(max_ns_, " ", total_);
    for (size_t i = 0; i < counts_.size(); ++i) {
      if (counts_[i] != 0) absl::StrAppend(&out, " ", i, ":", counts_[i]);
    }
    return out;
  }
  bool Parse(const std::string& text) {
    std::istringstream in(text);
    if (!(in >> max_ns_ >> total_)) return false;
    std::string item;
    while (in >> item) {
      std::vector<std::string> kv = absl::StrSplit(item, ':');
      if (kv.size() != 2) return false;
      size_t i = std::stoul(kv[0]);
      if (i >= counts_.size()) return false;
      counts_[i] = std::stoll(kv[1]);
    }
    return true;
  }

 private:
  static size_t Index(int64_t ns) {
    if (ns < 0) ns = 0;
    if (ns < kFineNs * kFineBuckets) return static_cast<size_t>(ns / kFineNs);
    int64_t c = (ns - kFineNs * kFineBuckets) / kCoarseNs;
    return static_cast<size_t>(kFineBuckets + std::min(c, kCoarseBuckets));
  }
  static int64_t UpperNs(size_t i) {
    if (static_cast<int64_t>(i) < kFineBuckets) return (static_cast<int64_t>(i) + 1) * kFineNs;
    int64_t c = static_cast<int64_t>(i) - kFineBuckets;
    if (c >= kCoarseBuckets) return INT64_MAX;
    return kFineNs * kFineBuckets + (c + 1) * kCoarseNs;
  }

  std::vector<int64_t> counts_;
  int64_t max_ns_ = 0;
  int64_t total_ = 0;
};

struct ClientResult {
  Histogram latency;      // per message (one decision, or one batch)
  int64_t decisions = 0;  // answered items, when a message carries several; 0 = one per message
  int64_t errors = 0;     // non-OK status in the measured interval
  int64_t granted = 0;
  int64_t refused = 0;
  std::string first_error;

  void Merge(const ClientResult& o) {
    latency.Merge(o.latency);
    decisions += o.decisions;
    errors += o.errors;
    granted += o.granted;
    refused += o.refused;
    if (first_error.empty()) first_error = o.first_error;
  }
  std::string Serialize() const {
    return absl::StrCat(errors, " ", granted, " ", refused, " ", latency.Serialize());
  }
  bool Parse(const std::string& text) {
    std::istringstream in(text);
    if (!(in >> errors >> granted >> refused)) return false;
    std::string rest;
    std::getline(in, rest);
    return latency.Parse(rest);
  }
};

ClientOptions RpcOptions(const std::string& target) {
  return ClientOptions{target, "", FLAGS_auth_token};
}

std::shared_ptr<grpc::Channel> ClientChannel(const std::string& target, int index) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetString("sluice.bench.client", absl::StrCat("client-", index, "-", getpid()));
  absl::StatusOr<std::vector<bench::ChannelArg>> extra =
      bench::ParseChannelArgs(FLAGS_channel_args);
  CHECK(extra.ok()) << "--channel_args: " << extra.status();  // checked in main first
  bench::ApplyChannelArgs(*extra, &args);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

v1::RouteRef BenchRoute() {
  v1::RouteRef r;
  r.set_upstream(kUpstream);
  r.set_route(kRoute);
  return r;
}

// The requests client `index` sends: one decision of the bench route, an
// Acquire that never waits, billed to the client's own caller name.
void BenchRequests(int index, v1::NextPermittedRequest* np, v1::AcquireRequest* acq) {
  *np->mutable_route() = BenchRoute();
  np->set_n(1);
  *acq->mutable_route() = BenchRoute();
  acq->set_n(1);
  *acq->mutable_max_wait() = ToProtoDuration(Duration::zero());
  acq->set_caller(absl::StrCat("bench-client-", index));
}

// One client: closed loop of `op` from `start` (warm-up until start+warmup,
// then measured until start+warmup+duration).
ClientResult RunClient(const std::string& op, const std::string& target, int index,
                       Steady::time_point start) {
  ClientResult result;
  auto channel = ClientChannel(target, index);
  auto stub = v1::ThrottlerService::NewStub(channel);
  const ClientOptions rpc = RpcOptions(target);
  channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10));
  const auto measure_from = start + std::chrono::seconds(FLAGS_warmup_s);
  const auto measure_to = measure_from + std::chrono::seconds(FLAGS_duration_s);
  std::this_thread::sleep_until(start);

  v1::NextPermittedRequest np_request;
  v1::AcquireRequest acq_request;
  BenchRequests(index, &np_request, &acq_request);
  const bool acquire = op == "acquire";

  while (true) {
    const auto t0 = Steady::now();
    if (t0 >= measure_to) break;
    grpc::ClientContext context;
    PrepareContext(&context, rpc, std::chrono::milliseconds(5000));
    grpc::Status status;
    bool granted = false;
    if (acquire) {
      v1::AcquireResponse response;
      status = stub->Acquire(&context, acq_request, &response);
      granted = response.granted();
    } else {
      v1::NextPermittedResponse response;
      status = stub->NextPermitted(&context, np_request, &response);
    }
    const auto t1 = Steady::now();
    if (t0 < measure_from) continue;
    if (!status.ok()) {
      result.errors++;
      if (result.first_error.empty()) {
        result.first_error = absl::StrCat(status.error_code(), " ", status.error_message());
      }
      continue;
    }
    result.latency.Add(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
    if (acquire) (granted ? result.granted : result.refused)++;
  }
  return result;
}

ClientResult RunThreads(const std::string& op, const std::string& target, CpuWindow* cpu) {
  const auto start = Steady::now() + std::chrono::milliseconds(500);
  std::vector<ClientResult> results(FLAGS_clients);
  std::vector<std::thread> threads;
  for (int i = 0; i < FLAGS_clients; ++i) {
    threads.emplace_back([&, i] { results[i] = RunClient(op, target, i, start); });
  }
  const auto measure_from = start + std::chrono::seconds(FLAGS_warmup_s);
  cpu->Measure(measure_from, measure_from + std::chrono::seconds(FLAGS_duration_s));
  for (auto& t : threads) t.join();
  ClientResult total;
  for (const auto& r : results) total.Merge(r);
  return total;
}

// One thread, FLAGS_clients calls in flight, each slot on its own channel:
// a closed loop per slot, driven by one CompletionQueue (as redis-benchmark
// drives its connections from one event loop).
ClientResult RunAsync(const std::string& op, const std::string& target, CpuWindow* cpu) {
  const auto start = Steady::now() + std::chrono::milliseconds(500);
  const auto measure_from = start + std::chrono::seconds(FLAGS_warmup_s);
  const auto measure_to = measure_from + std::chrono::seconds(FLAGS_duration_s);
  const bool acquire = op == "acquire";
  const bool np_batch = op == "next_permitted_batch";
  const bool acq_batch = op == "acquire_batch";
  const ClientOptions rpc = RpcOptions(target);

  struct Slot {
    std::unique_ptr<v1::ThrottlerService::Stub> stub;
    std::unique_ptr<grpc::ClientContext> context;
    v1::NextPermittedRequest np_request;
    v1::AcquireRequest acq_request;
    v1::NextPermittedBatchRequest npb_request;
    v1::AcquireBatchRequest acqb_request;
    v1::NextPermittedResponse np_response;
    v1::AcquireResponse acq_response;
    v1::NextPermittedBatchResponse npb_response;
    v1::AcquireBatchResponse acqb_response;
    std::unique_ptr<grpc::ClientAsyncResponseReader<v1::NextPermittedResponse>> np_reader;
    std::unique_ptr<grpc::ClientAsyncResponseReader<v1::AcquireResponse>> acq_reader;
    std::unique_ptr<grpc::ClientAsyncResponseReader<v1::NextPermittedBatchResponse>> npb_reader;
    std::unique_ptr<grpc::ClientAsyncResponseReader<v1::AcquireBatchResponse>> acqb_reader;
    grpc::Status status;
    Steady::time_point started;
  };
  grpc::CompletionQueue cq;
  std::vector<Slot> slots(static_cast<size_t>(FLAGS_clients));
  for (int i = 0; i < FLAGS_clients; ++i) {
    Slot& s = slots[static_cast<size_t>(i)];
    auto channel = ClientChannel(target, i);
    channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10));
    s.stub = v1::ThrottlerService::NewStub(channel);
    BenchRequests(i, &s.np_request, &s.acq_request);
    for (int k = 0; k < FLAGS_batch; ++k) {
      *s.npb_request.add_items() = s.np_request;
      *s.acqb_request.add_items() = s.acq_request;
    }
  }
  auto issue = [&](size_t i) {
    Slot& s = slots[i];
    s.context = std::make_unique<grpc::ClientContext>();
    PrepareContext(s.context.get(), rpc, std::chrono::milliseconds(5000));
    s.started = Steady::now();
    if (np_batch) {
      s.npb_response.Clear();
      s.npb_reader = s.stub->AsyncNextPermittedBatch(s.context.get(), s.npb_request, &cq);
      s.npb_reader->Finish(&s.npb_response, &s.status, reinterpret_cast<void*>(i));
    } else if (acq_batch) {
      s.acqb_response.Clear();
      s.acqb_reader = s.stub->AsyncAcquireBatch(s.context.get(), s.acqb_request, &cq);
      s.acqb_reader->Finish(&s.acqb_response, &s.status, reinterpret_cast<void*>(i));
    } else if (acquire) {
      s.acq_reader = s.stub->AsyncAcquire(s.context.get(), s.acq_request, &cq);
      s.acq_reader->Finish(&s.acq_response, &s.status, reinterpret_cast<void*>(i));
    } else {
      s.np_reader = s.stub->AsyncNextPermitted(s.context.get(), s.np_request, &cq);
      s.np_reader->Finish(&s.np_response, &s.status, reinterpret_cast<void*>(i));
    }
  };

  ClientResult result;
  std::thread sampler([&] { cpu->Measure(measure_from, measure_to); });
  std::this_thread::sleep_until(start);
  for (size_t i = 0; i < slots.size(); ++i) issue(i);
  size_t in_flight = slots.size();
  void* tag = nullptr;
  bool ok = false;
  while (in_flight > 0 && cq.Next(&tag, &ok)) {
    const auto t1 = Steady::now();
    const size_t i = reinterpret_cast<size_t>(tag);
    Slot& s = slots[i];
    if (s.started >= measure_from) {
      if (!ok || !s.status.ok()) {
        result.errors++;
        if (result.first_error.empty()) {
          result.first_error = absl::StrCat(s.status.error_code(), " ", s.status.error_message());
        }
      } else {
        result.latency.Add(
            std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - s.started).count());
        if (acquire) (s.acq_response.granted() ? result.granted : result.refused)++;
        if (np_batch) {
          for (const v1::NextPermittedAnswer& a : s.npb_response.answers()) {
            if (a.status().code() != 0) result.errors++;
          }
          result.decisions += s.npb_response.answers_size();
        }
        if (acq_batch) {
          for (const v1::AcquireAnswer& a : s.acqb_response.answers()) {
            if (a.status().code() != 0) {
              result.errors++;
            } else {
              (a.response().granted() ? result.granted : result.refused)++;
            }
          }
          result.decisions += s.acqb_response.answers_size();
        }
      }
    }
    if (t1 < measure_to) {
      issue(i);
    } else {
      --in_flight;
    }
  }
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  sampler.join();
  return result;
}

// The same shape as RunAsync (one process, --clients calls in flight, one
// connection each) on gRPC's callback client API: each slot issues its next
// call from the previous call's completion callback, which gRPC runs on its
// own threads (no thread of this bench waits on a CompletionQueue).
ClientResult RunCallback(const std::string& op, const std::string& target, CpuWindow* cpu) {
  const auto start = Steady::now() + std::chrono::milliseconds(500);
  const auto measure_from = start + std::chrono::seconds(FLAGS_warmup_s);
  const auto measure_to = measure_from + std::chrono::seconds(FLAGS_duration_s);
  const bool acquire = op == "acquire";
  const ClientOptions rpc = RpcOptions(target);

  struct Slot {
    std::unique_ptr<v1::ThrottlerService::Stub> stub;
    std::unique_ptr<grpc::ClientContext> context;
    v1::NextPermittedRequest np_request;
    v1::AcquireRequest acq_request;
    v1::NextPermittedResponse np_response;
    v1::AcquireResponse acq_response;
    Steady::time_point started;
    ClientResult result;  // only this slot's callbacks touch it, one at a time
  };
  std::vector<Slot> slots(static_cast<size_t>(FLAGS_clients));
  for (int i = 0; i < FLAGS_clients; ++i) {
    Slot& s = slots[static_cast<size_t>(i)];
    auto channel = ClientChannel(target, i);
    channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10));
    s.stub = v1::ThrottlerService::NewStub(channel);
    BenchRequests(i, &s.np_request, &s.acq_request);
  }
  std::mutex mu;
  std::condition_variable all_done;
  size_t running = slots.size();  // guarded by mu

  std::function<void(Slot*)> issue = [&](Slot* s) {
    s->context = std::make_unique<grpc::ClientContext>();
    PrepareContext(s->context.get(), rpc, std::chrono::milliseconds(5000));
    s->started = Steady::now();
    auto done = [&, s](grpc::Status status) {
      const auto t1 = Steady::now();
      if (s->started >= measure_from) {
        if (!status.ok()) {
          s->result.errors++;
          if (s->result.first_error.empty()) {
            s->result.first_error = absl::StrCat(status.error_code(), " ", status.error_message());
          }
        } else {
          s->result.latency.Add(
              std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - s->started).count());
          if (acquire) (s->acq_response.granted() ? s->result.granted : s->result.refused)++;
        }
      }
      if (t1 < measure_to) {
        issue(s);
        return;
      }
      std::lock_guard<std::mutex> lock(mu);
      if (--running == 0) all_done.notify_all();
    };
    if (acquire) {
      s->stub->async()->Acquire(s->context.get(), &s->acq_request, &s->acq_response, done);
    } else {
      s->stub->async()->NextPermitted(s->context.get(), &s->np_request, &s->np_response, done);
    }
  };

  std::thread sampler([&] { cpu->Measure(measure_from, measure_to); });
  std::this_thread::sleep_until(start);
  for (Slot& s : slots) issue(&s);
  {
    std::unique_lock<std::mutex> lock(mu);
    all_done.wait(lock, [&] { return running == 0; });
  }
  sampler.join();
  ClientResult total;
  for (const Slot& s : slots) total.Merge(s.result);
  return total;
}

// --streams Decide streams (each on its own channel), each keeping
// --window requests in flight: a writer thread sends while fewer are
// unanswered, a reader thread takes the answers (in order) and times each
// from its send. One decision per message.
ClientResult RunDecide(const std::string& target, CpuWindow* cpu) {
  const auto start = Steady::now() + std::chrono::milliseconds(500);
  const auto measure_from = start + std::chrono::seconds(FLAGS_warmup_s);
  const auto measure_to = measure_from + std::chrono::seconds(FLAGS_duration_s);
  const ClientOptions rpc = RpcOptions(target);
  const size_t window = static_cast<size_t>(FLAGS_window);
  std::vector<ClientResult> results(static_cast<size_t>(FLAGS_streams));
  std::vector<std::thread> threads;
  for (int i = 0; i < FLAGS_streams; ++i) {
    threads.emplace_back([&, i] {
      ClientResult& result = results[static_cast<size_t>(i)];
      auto channel = ClientChannel(target, i);
      channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10));
      auto stub = v1::ThrottlerService::NewStub(channel);
      grpc::ClientContext context;
      PrepareContext(&context, rpc, std::chrono::seconds(FLAGS_warmup_s + FLAGS_duration_s + 60));
      auto stream = stub->Decide(&context);
      std::vector<Steady::time_point> sent(window);
      std::mutex mu;
      std::condition_variable cv;
      uint64_t written = 0, answered = 0;  // guarded by mu
      std::this_thread::sleep_until(start);
      std::thread writer([&] {
        v1::DecideRequest request;
        *request.mutable_next_permitted()->mutable_route() = BenchRoute();
        request.mutable_next_permitted()->set_n(1);
        while (true) {
          uint64_t id;
          {
            std::unique_lock<std::mutex> lock(mu);
            cv.wait(lock, [&] { return written - answered < window; });
            id = written;
            sent[id % window] = Steady::now();
            if (sent[id % window] >= measure_to) break;
            ++written;
          }
          request.set_id(id);
          if (!stream->Write(request)) break;
        }
        stream->WritesDone();
      });
      v1::DecideResponse answer;
      while (stream->Read(&answer)) {
        const auto t1 = Steady::now();
        Steady::time_point t0;
        {
          std::lock_guard<std::mutex> lock(mu);
          t0 = sent[answer.id() % window];
          ++answered;
        }
        cv.notify_one();
        if (answer.id() != answered - 1) {
          result.errors++;
          if (result.first_error.empty()) result.first_error = "answer out of order";
        }
        if (t0 < measure_from || t0 >= measure_to) continue;
        if (answer.status().code() != 0) {
          result.errors++;
          if (result.first_error.empty()) result.first_error = answer.status().message();
          continue;
        }
        result.latency.Add(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
      }
      writer.join();
      grpc::Status status = stream->Finish();
      if (!status.ok() && result.first_error.empty()) {
        result.first_error = absl::StrCat(status.error_code(), " ", status.error_message());
      }
    });
  }
  cpu->Measure(measure_from, measure_to);
  for (auto& t : threads) t.join();
  ClientResult total;
  for (const auto& r : results) total.Merge(r);
  return total;
}

// Decisions made in this process by client::LocalThrottle from tokens it
// leases in bulk from the target: --local_threads threads, each a closed
// loop of Acquire (one token: one call may be made) or NextPermitted
// (consumes nothing). Latency is sampled (every 64th decision): timing
// each would cost about as much as the decision.
ClientResult RunLocal(const std::string& op, const std::string& target, CpuWindow* cpu) {
  const auto start = Steady::now() + std::chrono::milliseconds(500);
  const auto measure_from = start + std::chrono::seconds(FLAGS_warmup_s);
  const auto measure_to = measure_from + std::chrono::seconds(FLAGS_duration_s);
  const ClientOptions rpc = RpcOptions(target);
  client::LocalThrottleOptions options;
  options.client_id = absl::StrCat("decision-bench-", getpid());
  options.rpc = rpc;
  options.lease_batch = 1000;
  options.refill_below = FLAGS_local_refill_below;
  options.refill_parallel = FLAGS_local_refill_parallel;
  client::LocalThrottle local(options, ClientChannel(target, 1000), SystemClock::Get());
  if (absl::Status s = local.Start(); !s.ok()) {
    ClientResult failed;
    failed.errors = 1;
    failed.first_error = s.ToString();
    return failed;
  }
  const client::Route route{kUpstream, kRoute, ""};
  const bool acquire = op == "local_acquire";
  std::vector<ClientResult> results(static_cast<size_t>(FLAGS_local_threads));
  std::vector<std::thread> threads;
  for (int i = 0; i < FLAGS_local_threads; ++i) {
    threads.emplace_back([&, i] {
      ClientResult& r = results[static_cast<size_t>(i)];
      std::this_thread::sleep_until(start);
      bool measuring = false;
      for (uint64_t k = 0;; ++k) {
        const bool sample = (k & 63) == 0;
        Steady::time_point t0;
        if (sample) {
          t0 = Steady::now();
          if (t0 >= measure_to) break;
          measuring = t0 >= measure_from;
        }
        bool ok;
        if (acquire) {
          ok = local.Acquire(route).granted;
        } else {
          local.NextPermitted(route);  // every answer is a decision ("now" or when)
          ok = true;
        }
        if (!measuring) continue;
        if (!ok) {
          r.refused++;
          continue;
        }
        r.decisions++;
        if (acquire) r.granted++;
        if (sample) {
          r.latency.Add(
              std::chrono::duration_cast<std::chrono::nanoseconds>(Steady::now() - t0).count());
        }
      }
    });
  }
  cpu->Measure(measure_from, measure_to);
  for (auto& t : threads) t.join();
  const auto stats = local.stats();
  local.Shutdown();
  ClientResult total;
  for (const auto& r : results) total.Merge(r);
  std::printf(
      "local: %lld leases (%lld refused), %lld tokens leased, %lld revocations\n",
      static_cast<long long>(stats.lease_calls), static_cast<long long>(stats.lease_refusals),
      static_cast<long long>(stats.tokens.granted), static_cast<long long>(stats.revocations));
  return total;
}

// Re-executes this binary FLAGS_procs times as one-client processes and
// collects their results from their stdout.
absl::StatusOr<ClientResult> RunProcesses(const std::string& op, const std::string& target,
                                          CpuWindow* cpu) {
  const auto start = Steady::now() + std::chrono::seconds(1);
  const int64_t start_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(start.time_since_epoch()).count();
  struct Child {
    pid_t pid;
    int fd;
  };
  std::vector<Child> children;
  for (int i = 0; i < FLAGS_procs; ++i) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
      return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
    }
    std::vector<std::string> args = {
        "/proc/self/exe",
        absl::StrCat("--child_op=", op),
        absl::StrCat("--target=", target),
        absl::StrCat("--auth_token=", FLAGS_auth_token),
        absl::StrCat("--child_start_ns=", start_ns),
        absl::StrCat("--child_index=", i),
        absl::StrCat("--warmup_s=", FLAGS_warmup_s),
        absl::StrCat("--duration_s=", FLAGS_duration_s),
    };
    // Built before fork(): the child only calls async-signal-safe functions.
    std::vector<char*> child_argv;
    for (auto& a : args) child_argv.push_back(a.data());
    child_argv.push_back(nullptr);
    pid_t pid = fork();
    if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
    if (pid == 0) {
      dup2(fds[1], STDOUT_FILENO);  // the duplicate does not close on exec
      execv("/proc/self/exe", child_argv.data());
      _exit(127);
    }
    close(fds[1]);
    children.push_back(Child{pid, fds[0]});
  }
  const auto measure_from = start + std::chrono::seconds(FLAGS_warmup_s);
  cpu->Measure(measure_from, measure_from + std::chrono::seconds(FLAGS_duration_s));
  ClientResult total;
  absl::Status failure;
  for (const Child& c : children) {
    std::string out;
    char buf[65536];
    ssize_t n;
    while ((n = read(c.fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
      if (n > 0) out.append(buf, static_cast<size_t>(n));
    }
    close(c.fd);
    int wstatus = 0;
    waitpid(c.pid, &wstatus, 0);
    ClientResult r;
    const size_t at = out.rfind("RESULT ");
    if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0 || at == std::string::npos ||
        !r.Parse(out.substr(at + 7))) {
      failure = absl::InternalError(
          absl::StrCat("client process ", c.pid, " failed (status ", wstatus, ")"));
      continue;
    }
    total.Merge(r);
  }
  if (!failure.ok()) return failure;
  return total;
}

// Teaches the throttler a big per-second budget for the bench route and
// checks that a decision comes back as "now".
absl::Status TeachBudget(const std::string& target) {
  auto stub = v1::ThrottlerService::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  const ClientOptions rpc = RpcOptions(target);
  v1::ReportRequest report;
  v1::Observation* o = report.mutable_observation();
  *o->mutable_route() = BenchRoute();
  o->set_status(200);
  const std::pair<std::string, std::string> headers[] = {
      {"X-Rate-Limit-Policy", kPolicy},
      {"X-Rate-Limit-Rules", "Client"},
      {"X-Rate-Limit-Client", absl::StrCat(FLAGS_budget_hits, ":1:60")},
      {"X-Rate-Limit-Client-State", "1:1:0"},
  };
  for (const auto& [name, value] : headers) {
    v1::Header* h = o->add_headers();
    h->set_name(name);
    h->set_value(value);
  }
  *o->mutable_response_age() = ToProtoDuration(Duration::zero());
  *o->mutable_sent_age() = ToProtoDuration(std::chrono::milliseconds(1));
  v1::ReportResponse report_response;
  grpc::ClientContext context;
  PrepareContext(&context, rpc, std::chrono::milliseconds(10000));
  grpc::Status s = stub->Report(&context, report, &report_response);
  if (!s.ok()) return absl::UnavailableError(absl::StrCat("Report: ", s.error_message()));

  v1::NextPermittedRequest np;
  *np.mutable_route() = BenchRoute();
  np.set_n(1);
  v1::NextPermittedResponse np_response;
  grpc::ClientContext np_context;
  PrepareContext(&np_context, rpc, std::chrono::milliseconds(10000));
  s = stub->NextPermitted(&np_context, np, &np_response);
  if (!s.ok()) return absl::UnavailableError(absl::StrCat("NextPermitted: ", s.error_message()));
  std::printf(
      "setup: taught policy %s rule Client %lld:1:60 on poe %s; NextPermitted wait %.3f s"
      "%s%s\n",
      kPolicy, static_cast<long long>(FLAGS_budget_hits), kRoute,
      std::chrono::duration<double>(FromProtoDuration(np_response.wait())).count(),
      np_response.limiting_budget().empty() ? "" : ", limiting ",
      np_response.limiting_budget().c_str());
  return absl::OkStatus();
}

void PrintBudgets(const std::string& target) {
  auto stub = v1::ThrottlerService::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  v1::ListBudgetsResponse response;
  grpc::ClientContext context;
  PrepareContext(&context, RpcOptions(target), std::chrono::milliseconds(30000));
  if (!stub->ListBudgets(&context, v1::ListBudgetsRequest(), &response).ok()) return;
  for (const v1::Budget& b : response.budgets()) {
    if (b.name().find(kPolicy) == std::string::npos) continue;
    std::printf("budget %s: granted %lld, denied %lld, outstanding %lld\n", b.name().c_str(),
                static_cast<long long>(b.granted()), static_cast<long long>(b.denied()),
                static_cast<long long>(b.outstanding_tokens()));
  }
}

// The same decisions without gRPC: --clients threads calling the
// coordinator's Throttler directly, to separate the throttler's own cost
// from the transport's.
ClientResult RunDirect(const std::string& op, throttle::Throttler* throttler) {
  throttle::CallKey key;
  key.upstream = throttle::Upstream::kPoe;
  key.route = kRoute;
  const auto start = Steady::now() + std::chrono::milliseconds(100);
  const auto end = start + std::chrono::seconds(FLAGS_direct_s);
  std::vector<ClientResult> results(FLAGS_clients);
  std::vector<std::thread> threads;
  for (int i = 0; i < FLAGS_clients; ++i) {
    threads.emplace_back([&, i] {
      ClientResult& r = results[i];
      const std::string caller = absl::StrCat("bench-direct-", i);
      std::this_thread::sleep_until(start);
      while (true) {
        const auto t0 = Steady::now();
        if (t0 >= end) break;
        bool ok, granted = false;
        if (op == "acquire") {
          absl::StatusOr<throttle::AcquireResult> a =
              throttler->Acquire(key, 1, Duration::zero(), caller);
          ok = a.ok();
          granted = ok && a->granted;
        } else {
          ok = throttler->NextPermitted(key, 1).ok();
        }
        const auto t1 = Steady::now();
        if (!ok) {
          r.errors++;
          continue;
        }
        r.latency.Add(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
        if (op == "acquire") (granted ? r.granted : r.refused)++;
      }
    });
  }
  for (auto& t : threads) t.join();
  ClientResult total;
  for (const auto& r : results) total.Merge(r);
  return total;
}

int ChildMain() {
  const Steady::time_point start{std::chrono::nanoseconds(FLAGS_child_start_ns)};
  ClientResult r = RunClient(FLAGS_child_op, FLAGS_target, FLAGS_child_index, start);
  if (!r.first_error.empty()) std::fprintf(stderr, "client error: %s\n", r.first_error.c_str());
  std::printf("RESULT %s\n", r.Serialize().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  InitProcess(&argc, &argv, "throttler decision cost benchmark",
              {{"dsn", "SLUICE_DSN"}, {"auth_token", "SLUICE_AUTH_TOKEN"}});
  if (!FLAGS_child_op.empty()) return ChildMain();
  if (FLAGS_clients < 1 || FLAGS_procs < 0 || FLAGS_duration_s < 1 || FLAGS_warmup_s < 0) {
    std::fprintf(stderr, "--clients >= 1, --procs >= 0, --duration_s >= 1, --warmup_s >= 0\n");
    return 2;
  }
  if (FLAGS_batch < 1 || FLAGS_batch > 1000 || FLAGS_streams < 1 || FLAGS_window < 1 ||
      FLAGS_local_threads < 1 || FLAGS_local_refill_below < 0 || FLAGS_local_refill_parallel < 1 ||
      FLAGS_local_refill_parallel > 16) {
    std::fprintf(stderr,
                 "--batch 1..1000, --streams >= 1, --window >= 1, --local_threads >= 1, "
                 "--local_refill_below >= 0, --local_refill_parallel 1..16\n");
    return 2;
  }
  if (absl::Status s = bench::ParseChannelArgs(FLAGS_channel_args).status(); !s.ok()) {
    std::fprintf(stderr, "--channel_args: %s\n", s.ToString().c_str());
    return 2;
  }
  if (FLAGS_callback && !FLAGS_async) {
    std::fprintf(stderr, "--callback is a variant of --async: give both\n");
    return 2;
  }
  if (FLAGS_async && FLAGS_procs > 0) {
    std::fprintf(stderr, "--async and --procs are different client shapes: pick one\n");
    return 2;
  }
  std::vector<std::string> ops = absl::StrSplit(FLAGS_ops, ',', absl::SkipEmpty());
  for (const std::string& op : ops) {
    if (op != "next_permitted" && op != "acquire" && op != "next_permitted_batch" &&
        op != "acquire_batch" && op != "decide" && op != "local_acquire" &&
        op != "local_next_permitted") {
      std::fprintf(stderr,
                   "--ops: unknown op '%s' (next_permitted, acquire, next_permitted_batch, "
                   "acquire_batch, decide, local_acquire, local_next_permitted)\n",
                   op.c_str());
      return 2;
    }
    if (op != "next_permitted" && op != "acquire" && FLAGS_procs > 0) {
      std::fprintf(stderr, "--procs measures only next_permitted and acquire\n");
      return 2;
    }
    if ((op == "next_permitted_batch" || op == "acquire_batch") && !FLAGS_async) {
      std::fprintf(stderr, "%s needs --async (one thread, --clients calls in flight)\n",
                   op.c_str());
      return 2;
    }
  }

  std::unique_ptr<Coordinator> coordinator;
  std::string target = FLAGS_target;
  if (FLAGS_mode == "inprocess") {
    if (FLAGS_dsn.empty()) {
      std::fprintf(stderr, "--mode=inprocess needs --dsn or SLUICE_DSN\n");
      return 2;
    }
    if (absl::Status s = ClearThrottleState(FLAGS_dsn); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 1;
    }
    CoordinatorOptions options;
    options.listen = "127.0.0.1:0";
    options.dsn = FLAGS_dsn;
    options.scheduler.enabled = false;  // no periodic jobs: only decisions are measured
    options.auth_token = FLAGS_auth_token;
    coordinator = std::make_unique<Coordinator>(options);
    if (absl::Status s = coordinator->Start(); !s.ok()) {
      std::fprintf(stderr, "coordinator: %s\n", s.ToString().c_str());
      return 1;
    }
    target = absl::StrCat("127.0.0.1:", coordinator->port());
  } else if (FLAGS_mode != "target" || target.empty()) {
    std::fprintf(stderr, "--mode must be inprocess, or target with --target=host:port\n");
    return 2;
  }

  const bool procs = FLAGS_procs > 0;
  const int clients = procs ? FLAGS_procs : FLAGS_clients;
  const std::string shape =
      procs ? absl::StrCat(clients, " client processes")
      : FLAGS_async && FLAGS_callback
          ? absl::StrCat("1 client process with ", clients, " calls in flight on the callback API")
      : FLAGS_async ? absl::StrCat("1 client thread with ", clients, " calls in flight")
                    : absl::StrCat(clients, " client threads");
  std::printf(
      "decision_bench: mode=%s target=%s, %s (own channel/connection each), "
      "%d s measured after %d s warm-up per op\n",
      FLAGS_mode.c_str(), target.c_str(), shape.c_str(), FLAGS_duration_s, FLAGS_warmup_s);
  std::printf(
      "note: %u hardware threads, shared by the clients and the coordinator%s; "
      "load average at start %s\n",
      std::thread::hardware_concurrency(),
      FLAGS_mode == "inprocess" ? " (same process)" : " (if it runs here)", LoadAverage().c_str());
  if (absl::Status s = TeachBudget(target); !s.ok()) {
    std::fprintf(stderr, "setup: %s\n", s.ToString().c_str());
    return 1;
  }

  std::printf("%-20s %9s %9s %8s %8s %8s %8s %7s  %s\n", "op", "calls", "rps", "p50_ms", "p90_ms",
              "p99_ms", "max_ms", "errors", "notes");
  for (const std::string& op : ops) {
    ClientResult r;
    CpuWindow cpu;
    if (procs) {
      absl::StatusOr<ClientResult> pr = RunProcesses(op, target, &cpu);
      if (!pr.ok()) {
        std::fprintf(stderr, "%s: %s\n", op.c_str(), pr.status().ToString().c_str());
        return 1;
      }
      r = *pr;
    } else if (op == "decide") {
      r = RunDecide(target, &cpu);
    } else if (op.rfind("local_", 0) == 0) {
      r = RunLocal(op, target, &cpu);
    } else if (FLAGS_callback && (op == "next_permitted" || op == "acquire")) {
      r = RunCallback(op, target, &cpu);
    } else if (FLAGS_async) {
      r = RunAsync(op, target, &cpu);
    } else {
      r = RunThreads(op, target, &cpu);
    }
    const int64_t calls = r.decisions > 0 ? r.decisions : r.latency.total();
    std::string notes;
    if (op == "next_permitted_batch" || op == "acquire_batch") {
      notes = absl::StrCat(FLAGS_batch, " per message, latency per message");
    } else if (op == "decide") {
      notes = absl::StrCat(FLAGS_streams, " stream(s), ", FLAGS_window, " in flight each");
    } else if (op.rfind("local_", 0) == 0) {
      notes = absl::StrCat(FLAGS_local_threads, " thread(s), latency sampled");
    }
    if (op == "acquire" || op == "acquire_batch" || op == "local_acquire") {
      if (!notes.empty()) notes += "; ";
      notes += absl::StrCat("granted ", r.granted, ", refused ", r.refused);
    }
    if (!r.first_error.empty()) absl::StrAppend(&notes, notes.empty() ? "" : "; ", r.first_error);
    // In-process, this process is the coordinator (plus the client threads
    // unless --procs): its CPU per decision is what the decisions cost here.
    const double cores = cpu.ProcessCores(FLAGS_duration_s);
    if (FLAGS_mode == "inprocess") {
      absl::StrAppend(
          &notes, notes.empty() ? "" : "; ",
          absl::StrFormat("%s %.2f cores = %.0f us CPU and %.1f context switches per decision",
                          procs ? "server" : "server+clients", cores,
                          calls > 0 ? cores * FLAGS_duration_s * 1e6 / calls : 0.0,
                          calls > 0 ? static_cast<double>(cpu.Switches()) / calls : 0.0));
    } else if (!procs) {
      absl::StrAppend(&notes, notes.empty() ? "" : "; ",
                      absl::StrFormat("clients %.2f cores", cores));
    }
    absl::StrAppend(&notes,
                    absl::StrFormat("; machine busy %.2f of %u cores", cpu.MachineBusyCores(),
                                    std::thread::hardware_concurrency()));
    absl::StrAppend(&notes, "; load ", LoadAverage());
    std::printf("%-20s %9lld %9.0f %8.3f %8.3f %8.3f %8.3f %7lld  %s\n", op.c_str(),
                static_cast<long long>(calls), static_cast<double>(calls) / FLAGS_duration_s,
                r.latency.PercentileMs(0.50), r.latency.PercentileMs(0.90),
                r.latency.PercentileMs(0.99), r.latency.MaxMs(), static_cast<long long>(r.errors),
                notes.c_str());
    if (FLAGS_result_line) {
      std::printf(
          "RESULT {\"system\":\"sluice\",\"op\":\"%s\",\"shape\":\"%s\",\"clients\":%d,"
          "\"calls\":%lld,\"errors\":%lld,\"seconds\":%d,\"decisions_per_s\":%.1f,"
          "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f}\n",
          op.c_str(),
          op == "decide"               ? "stream"
          : op.rfind("local_", 0) == 0 ? "local"
          : procs                      ? "procs"
          : FLAGS_async                ? "async"
                                       : "threads",
          clients, static_cast<long long>(calls), static_cast<long long>(r.errors),
          FLAGS_duration_s, static_cast<double>(calls) / FLAGS_duration_s,
          r.latency.PercentileMs(0.50), r.latency.PercentileMs(0.99), r.latency.MaxMs());
    }
    std::fflush(stdout);
  }
  if (coordinator != nullptr && FLAGS_direct_s > 0) {
    std::printf("without gRPC (%d threads calling the coordinator's Throttler, %d s each):\n",
                FLAGS_clients, FLAGS_direct_s);
    for (const std::string& op : ops) {
      if (op != "next_permitted" && op != "acquire") continue;
      ClientResult r = RunDirect(op, coordinator->throttler());
      const int64_t calls = r.latency.total();
      std::printf("%-14s %9lld %9.0f %8.4f %8.4f %8.4f %8.3f %7lld  %s\n",
                  op == "acquire" ? "Acquire" : "NextPermitted", static_cast<long long>(calls),
                  static_cast<double>(calls) / FLAGS_direct_s, r.latency.PercentileMs(0.50),
                  r.latency.PercentileMs(0.90), r.latency.PercentileMs(0.99), r.latency.MaxMs(),
                  static_cast<long long>(r.errors),
                  op == "acquire"
                      ? absl::StrCat("granted ", r.granted, ", refused ", r.refused).c_str()
                      : "");
    }
  }
  if (coordinator != nullptr) {
    // The persister snapshots the throttler every 500 ms while anything
    // changes, under the mutex every decision takes: its length with the
    // leases open now bounds the stall a decision can see from it.
    int64_t open_calls = 0;
    for (const throttle::BudgetInfo& b : coordinator->throttler()->ListBudgets()) {
      open_calls = std::max(open_calls, b.outstanding_calls);
    }
    const auto t0 = Steady::now();
    throttle::ThrottleSnapshot snapshot = coordinator->throttler()->Snapshot();
    const double ms = std::chrono::duration<double, std::milli>(Steady::now() - t0).count();
    std::printf(
        "Throttler::Snapshot (holds the throttler mutex) with %lld calls in open leases: "
        "%.1f ms\n",
        static_cast<long long>(open_calls), ms);
  }
  PrintBudgets(target);
  std::printf(
      "reference: bench/decision_anchor.sh measures a Redis GCRA limiter beside this bench "
      "with the same client shape (--mode=target --async --clients=8)\n");
  if (coordinator) coordinator->Shutdown(std::chrono::seconds(2));
  return 0;
}
