#include "common/grpc_security.h"

#include <glog/logging.h>

#include <fstream>
#include <sstream>

namespace sluice {
namespace {

std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path);
  CHECK(in) << "cannot read " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool ConstantTimeEquals(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

grpc::Status Authorizer::Check(const grpc::ServerContextBase* context) const {
  if (token_.empty()) return grpc::Status::OK;
  const auto& md = context->client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "missing 'authorization: Bearer <token>' metadata");
  }
  std::string value(it->second.data(), it->second.size());
  static const std::string kPrefix = "Bearer ";
  if (value.compare(0, kPrefix.size(), kPrefix) != 0 ||
      !ConstantTimeEquals(value.substr(kPrefix.size()), token_)) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "invalid bearer token");
  }
  return grpc::Status::OK;
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
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (options.tls_ca.empty()) {
    creds = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ReadFileOrDie(options.tls_ca);
    creds = grpc::SslCredentials(ssl);
  }
  return grpc::CreateCustomChannel(options.target, creds, args);
}

void PrepareContext(grpc::ClientContext* context, const ClientOptions& options,
                    std::chrono::milliseconds deadline) {
  if (!options.auth_token.empty()) {
    context->AddMetadata("authorization", "Bearer " + options.auth_token);
  }
  context->set_deadline(std::chrono::system_clock::now() + deadline);
}

}  // namespace sluice
