// Transport security and caller authorization between Sluice processes.
//
// The coordinator knows its callers from a credential file (--auth_file,
// credentials.h) and/or the single shared --auth_token (the development and
// compatibility path: one credential holding every role). Clients send their
// credential as `authorization: Bearer <token>` metadata on every call and use
// TLS when given a CA file. With no credential configured at all, every call
// is admitted (a coordinator on loopback, tests).
//
// Which role may call which method is decided by one table (roles.h). gRPC's
// synchronous ServerContext does not say which method it serves, so Install()
// registers an interceptor that records each call's method name for Check().
// Health and reflection stay open so probes and grpcurl's `list` work; every
// Sluice service calls Check (or Authorize) first.
//
// Ownership: Authorizer owns its credentials and the method records; it must
// outlive the server it is installed on. Thread-safety: Check, Authorize and
// the usage counters from any thread; Install once, before the server starts.
#ifndef SLUICE_COMMON_GRPC_SECURITY_H_
#define SLUICE_COMMON_GRPC_SECURITY_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/credentials.h"
#include "common/principal_usage.h"

namespace sluice {

class Authorizer {
 public:
  // No credentials: every call is admitted.
  Authorizer();
  // The shared token (empty: none), as one credential with every role.
  explicit Authorizer(std::string token);
  explicit Authorizer(CredentialSet credentials);
  // The coordinator's configuration: the credentials of `auth_file` (empty:
  // none) and the shared token (empty: none). Errors name the file and line.
  static absl::StatusOr<std::unique_ptr<Authorizer>> FromConfig(const std::string& auth_token,
                                                                const std::string& auth_file);
  ~Authorizer();
  Authorizer(const Authorizer&) = delete;
  Authorizer& operator=(const Authorizer&) = delete;

  // Registers the interceptor that tells Check which method a call is for
  // (with no credential configured it records nothing: every call is
  // admitted anyway). Call once on the server's builder before BuildAndStart.
  // A server without it still authenticates, but then only a credential
  // holding every role (the shared --auth_token) is admitted to Sluice
  // methods.
  // `more` are further interceptors (metrics), run after the recorder.
  void Install(grpc::ServerBuilder& builder,
               std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
                   more = {});

  // OK; UNAUTHENTICATED when the bearer token is missing or unknown;
  // PERMISSION_DENIED naming the credential, its role and the method when the
  // role may not call it (or the method is not in the table).
  grpc::Status Check(const grpc::ServerContextBase* context) const;
  // As Check, and sets *principal to the caller (nullptr when no credential
  // is configured).
  grpc::Status Authorize(const grpc::ServerContextBase* context, const Principal** principal) const;
  // As Authorize, then the caller's route limits (a team limited to
  // upstreams or route prefixes): PERMISSION_DENIED naming both.
  grpc::Status CheckRoute(const grpc::ServerContextBase* context, absl::string_view upstream,
                          absl::string_view route) const;

  bool enabled() const { return !credentials_.empty(); }
  const CredentialSet& credentials() const { return credentials_; }

  // Whether an HTTP Authorization header value ("Bearer <token>") carries a
  // credential holding the operator role (the ops listener's check).
  bool IsOperator(absl::string_view authorization_header) const;

  // Per-credential counters of throttler decisions (ListBudgets shows them).
  PrincipalUsage& usage() const { return *usage_; }

  class MethodRecorder;  // which method each live call is for (grpc_security.cc)

 private:
  // The credential of a bearer token (credentials_.Find), remembering per
  // thread the last token found.
  const Principal* FindToken(absl::string_view token) const;

  const uint64_t id_;  // tells Authorizers apart in FindToken's cache
  CredentialSet credentials_;
  std::shared_ptr<MethodRecorder> recorder_;
  std::unique_ptr<PrincipalUsage> usage_;
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

// Adds the bearer token (if any) and a deadline to a client context, and
// makes the call wait for a leading coordinator until that deadline.
void PrepareContext(grpc::ClientContext* context, const ClientOptions& options,
                    std::chrono::milliseconds deadline);

// Whether host:port names a loopback address (127.0.0.0/8, ::1, localhost),
// where a coordinator without credentials is acceptable.
bool IsLoopbackListen(absl::string_view listen);

// A coordinator that would listen beyond loopback with no credential at all
// refuses to start: FAILED_PRECONDITION saying what to give it, unless
// allow_unauthenticated.
absl::Status CheckListenIsProtected(absl::string_view listen, bool has_credentials,
                                    bool allow_unauthenticated);

}  // namespace sluice

#endif  // SLUICE_COMMON_GRPC_SECURITY_H_
