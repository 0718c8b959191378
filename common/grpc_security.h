// Transport security and agent authentication between Sluice processes.
//
// The coordinator accepts an optional shared bearer token (--auth_token /
// SLUICE_AUTH_TOKEN) and optional TLS (--tls_cert/--tls_key). Clients send the
// token as `authorization: Bearer <token>` metadata on every call and use TLS
// when given a CA file. Health and reflection stay unauthenticated so probes
// and grpcurl's `list` work; every Sluice service checks the token.
//
// Thread-safety: Authorizer is immutable after construction.
#ifndef SLUICE_COMMON_GRPC_SECURITY_H_
#define SLUICE_COMMON_GRPC_SECURITY_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

namespace sluice {

class Authorizer {
 public:
  // An empty token disables authentication.
  explicit Authorizer(std::string token) : token_(std::move(token)) {}
  // OK, or UNAUTHENTICATED naming what is wrong. Takes the base of the
  // synchronous and the callback API's server contexts: services of both kinds
  // check the same way.
  grpc::Status Check(const grpc::ServerContextBase* context) const;
  bool enabled() const { return !token_.empty(); }

 private:
  std::string token_;
};

// Server credentials: TLS if both files are given, else plaintext.
std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(const std::string& cert_file,
                                                               const std::string& key_file);

struct ClientOptions {
  std::string target;      // host:port
  std::string tls_ca;      // PEM file; empty = plaintext
  std::string auth_token;  // empty = none
};

std::shared_ptr<grpc::Channel> MakeChannel(const ClientOptions& options);

// Adds the bearer token (if any) and a deadline to a client context.
void PrepareContext(grpc::ClientContext* context, const ClientOptions& options,
                    std::chrono::milliseconds deadline);

}  // namespace sluice

#endif  // SLUICE_COMMON_GRPC_SECURITY_H_
