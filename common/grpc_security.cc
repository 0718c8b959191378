#include "common/grpc_security.h"

#include <arpa/inet.h>
#include <glog/logging.h>
#include <grpcpp/support/server_interceptor.h>
#include <sodium.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <sstream>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/coordinator_target.h"

namespace sluice {
namespace {

std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path);
  CHECK(in) << "cannot read " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Authorizers told apart by the per-thread token cache (an address could be
// reused by a later Authorizer with other credentials).
std::atomic<uint64_t> next_authorizer_id{1};

// The last token this thread found a credential for, and whose: most calls
// on a thread carry the token of the call before, and a SHA-256 per call is
// most of what the role check costs (bench/grpc_interceptor_bench.cc).
// Holds a valid bearer token in this process's memory, as gRPC's metadata
// of every call does anyway.
struct LastToken {
  uint64_t authorizer = 0;
  std::string token;
  const Principal* principal = nullptr;
};
thread_local LastToken last_token;

// The token of "Bearer <token>", or nullopt.
std::optional<absl::string_view> BearerToken(absl::string_view header) {
  if (!absl::ConsumePrefix(&header, "Bearer ")) return std::nullopt;
  return header;
}

}  // namespace

// Which method each live call is for, keyed by its server context. A context
// may be reused for a later call; each record carries a serial so that an
// interceptor torn down late cannot erase its successor's record. The name is
// the one gRPC gives the interceptor (ServerRpcInfo::method()), which lives
// as long as the call: a record holds its address, not a copy, and a flat
// map keeps a call's record free of allocation.
class Authorizer::MethodRecorder {
 public:
  uint64_t Record(const grpc::ServerContextBase* ctx, const char* method) {
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t serial = ++serial_;
    calls_[ctx] = {serial, method == nullptr ? "" : method};
    return serial;
  }
  void Forget(const grpc::ServerContextBase* ctx, uint64_t serial) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = calls_.find(ctx);
    if (it != calls_.end() && it->second.first == serial) calls_.erase(it);
  }
  // The method of a live call (valid while the call is), or nullptr.
  const char* MethodOf(const grpc::ServerContextBase* ctx) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = calls_.find(ctx);
    return it == calls_.end() ? nullptr : it->second.second;
  }

 private:
  mutable std::mutex mu_;
  uint64_t serial_ = 0;
  absl::flat_hash_map<const grpc::ServerContextBase*, std::pair<uint64_t, const char*>> calls_;
};

namespace {

class RecordingInterceptor final : public grpc::experimental::Interceptor {
 public:
  RecordingInterceptor(std::shared_ptr<Authorizer::MethodRecorder> recorder,
                       grpc::experimental::ServerRpcInfo* info)
      : recorder_(std::move(recorder)), ctx_(info->server_context()) {
    serial_ = recorder_->Record(ctx_, info->method());
  }
  ~RecordingInterceptor() override { recorder_->Forget(ctx_, serial_); }
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    methods->Proceed();
  }

 private:
  std::shared_ptr<Authorizer::MethodRecorder> recorder_;
  const grpc::ServerContextBase* ctx_;
  uint64_t serial_ = 0;
};

// With no credential configured, Authorize admits every call without asking
// which method it is: nothing is recorded (nor any interceptor run for it).
class RecordingFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  RecordingFactory(std::shared_ptr<Authorizer::MethodRecorder> recorder, bool record)
      : recorder_(std::move(recorder)), record_(record) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return record_ ? new RecordingInterceptor(recorder_, info) : nullptr;
  }

 private:
  std::shared_ptr<Authorizer::MethodRecorder> recorder_;
  const bool record_;
};

std::vector<std::string> Names(const CredentialSet& set) {
  std::vector<std::string> out;
  for (const Principal* p : set.principals()) out.push_back(p->name);
  return out;
}

}  // namespace

Authorizer::Authorizer() : Authorizer(CredentialSet()) {}

Authorizer::Authorizer(std::string token) : Authorizer(CredentialSet()) {
  if (!token.empty()) {
    absl::Status added = credentials_.AddSharedToken(token);
    CHECK(added.ok()) << added;
    usage_ = std::make_unique<PrincipalUsage>(Names(credentials_));
  }
}

Authorizer::Authorizer(CredentialSet credentials)
    : id_(next_authorizer_id.fetch_add(1)),
      credentials_(std::move(credentials)),
      recorder_(std::make_shared<MethodRecorder>()),
      usage_(std::make_unique<PrincipalUsage>(Names(credentials_))) {}

Authorizer::~Authorizer() = default;

absl::StatusOr<std::unique_ptr<Authorizer>> Authorizer::FromConfig(const std::string& auth_token,
                                                                   const std::string& auth_file) {
  CredentialSet set;
  if (!auth_file.empty()) {
    absl::StatusOr<CredentialSet> loaded = CredentialSet::Load(auth_file);
    if (!loaded.ok()) return loaded.status();
    set = std::move(*loaded);
  }
  if (!auth_token.empty()) {
    if (absl::Status s = set.AddSharedToken(auth_token); !s.ok()) return s;
  }
  return std::make_unique<Authorizer>(std::move(set));
}

void Authorizer::Install(
    grpc::ServerBuilder& builder,
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> more) {
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  creators.push_back(std::make_unique<RecordingFactory>(recorder_, !credentials_.empty()));
  for (auto& m : more) creators.push_back(std::move(m));
  builder.experimental().SetInterceptorCreators(std::move(creators));
}

grpc::Status Authorizer::Check(const grpc::ServerContextBase* context) const {
  const Principal* ignored = nullptr;
  return Authorize(context, &ignored);
}

grpc::Status Authorizer::Authorize(const grpc::ServerContextBase* context,
                                   const Principal** principal) const {
  *principal = nullptr;
  if (credentials_.empty()) return grpc::Status::OK;
  const char* const method = recorder_->MethodOf(context);
  const MethodRule rule = method != nullptr ? RuleForMethod(method) : MethodRule{};
  if (rule.access == MethodAccess::kOpen) return grpc::Status::OK;

  const auto& md = context->client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "missing 'authorization: Bearer <token>' metadata");
  }
  const std::optional<absl::string_view> token =
      BearerToken(absl::string_view(it->second.data(), it->second.size()));
  const Principal* p = token ? FindToken(*token) : nullptr;
  if (p == nullptr) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "unknown bearer token");
  }
  if (!method) {
    // Not installed on this server: only a credential that may call
    // anything can be admitted without knowing the method.
    if (p->roles == RoleSet::All()) {
      *principal = p;
      return grpc::Status::OK;
    }
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        "credential '" + p->name +
                            "': the server cannot tell which method was called "
                            "(Authorizer::Install was not called)");
  }
  if (rule.access == MethodAccess::kUnknown) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        absl::StrCat("no role may call ", method, " (not in the method table)"));
  }
  if (!p->roles.Intersects(rule.roles)) {
    return grpc::Status(
        grpc::StatusCode::PERMISSION_DENIED,
        absl::StrCat("credential '", p->name, "' (role ", p->roles.ToString(), ") may not call ",
                     method, " (needs ", rule.roles.ToString(), ")"));
  }
  *principal = p;
  return grpc::Status::OK;
}

const Principal* Authorizer::FindToken(absl::string_view token) const {
  LastToken& last = last_token;
  if (last.authorizer == id_ && last.token.size() == token.size() &&
      sodium_memcmp(last.token.data(), token.data(), token.size()) == 0) {
    return last.principal;
  }
  const Principal* p = credentials_.Find(token);
  if (p != nullptr) {  // unknown tokens are not kept: each pays the full check
    last.authorizer = id_;
    last.token.assign(token.data(), token.size());
    last.principal = p;
  }
  return p;
}

grpc::Status Authorizer::CheckRoute(const grpc::ServerContextBase* context,
                                    absl::string_view upstream, absl::string_view route) const {
  const Principal* p = nullptr;
  if (grpc::Status s = Authorize(context, &p); !s.ok()) return s;
  if (p == nullptr) return grpc::Status::OK;
  if (absl::Status s = p->CheckRoute(upstream, route); !s.ok()) {
    usage_->Count(p, UsageEvent::kDenied);
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, std::string(s.message()));
  }
  return grpc::Status::OK;
}

bool Authorizer::IsOperator(absl::string_view authorization_header) const {
  const std::optional<absl::string_view> token = BearerToken(authorization_header);
  if (!token) return false;
  const Principal* p = credentials_.Find(*token);
  return p != nullptr && p->roles.Has(Role::kOperator);
}

std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(const std::string& cert_file,
                                                               const std::string& key_file) {
  if (cert_file.empty() && key_file.empty()) return grpc::InsecureServerCredentials();
  CHECK(!cert_file.empty() && !key_file.empty()) << "--tls_cert and --tls_key go together";
  grpc::SslServerCredentialsOptions opts;
  opts.pem_key_cert_pairs.push_back({ReadFileOrDie(key_file), ReadFileOrDie(cert_file)});
  return grpc::SslServerCredentials(opts);
}

std::shared_ptr<grpc::Channel> MakeChannel(const ClientOptions& options) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // gRPC's default reconnect backoff grows to 120 s: after a coordinator
  // restart, agents would sit idle for minutes.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  // After a takeover the new leader's port reopens within a second: try it
  // soon (gRPC's first retry waits 1 s).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (options.tls_ca.empty()) {
    creds = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ReadFileOrDie(options.tls_ca);
    creds = grpc::SslCredentials(ssl);
  }
  // Reach whichever coordinator leads (common/coordinator_target.h).
  auto target = ParseCoordinatorTarget(options.target);
  if (!target.ok()) {
    LOG(ERROR) << target.status();
    return grpc::CreateCustomChannel(options.target, creds, args);
  }
  args.SetServiceConfigJSON(target->service_config);
  return grpc::CreateCustomChannel(target->uri, creds, args);
}

void PrepareContext(grpc::ClientContext* context, const ClientOptions& options,
                    std::chrono::milliseconds deadline) {
  if (!options.auth_token.empty()) {
    context->AddMetadata("authorization", "Bearer " + options.auth_token);
  }
  context->set_deadline(std::chrono::system_clock::now() + deadline);
  // Wait (until the deadline) for a coordinator that leads rather than fail at
  // once: during a takeover the channel has no healthy address for a moment,
  // and a call in progress is also what makes the channel notice the new
  // leader promptly (an idle sync channel polls only every 5 s).
  context->set_wait_for_ready(true);
}

absl::Status CheckListenIsProtected(absl::string_view listen, bool has_credentials,
                                    bool allow_unauthenticated) {
  if (has_credentials || allow_unauthenticated || IsLoopbackListen(listen)) {
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "refusing to listen on ", listen,
      " with no credential: anyone who reaches it could run jobs, lease tasks and forge "
      "reports. Give --auth_file (credentials and roles) or --auth_token_file, listen on "
      "127.0.0.1, or pass --allow_unauthenticated"));
}

bool IsLoopbackListen(absl::string_view listen) {
  absl::string_view host = listen;
  const size_t colon = host.rfind(':');
  if (colon != absl::string_view::npos) host = host.substr(0, colon);
  if (absl::ConsumePrefix(&host, "[")) absl::ConsumeSuffix(&host, "]");
  if (host == "localhost") return true;
  const std::string h(host);
  in_addr v4;
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6;
  if (inet_pton(AF_INET6, h.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

}  // namespace sluice
