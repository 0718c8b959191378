// Where the coordinators are, as an operator writes it (--coordinator), made
// into a gRPC channel target that reaches whichever of them leads.
//
//   host:port            one name; a DNS name resolves to all its addresses
//                        (a Kubernetes headless Service lists every pod)
//   a:p1,b:p2,...        a list (IP literals, or names resolved once now)
//   scheme:...           a gRPC target URI (dns:, ipv4:, ipv6:, unix:),
//                        passed through
//
// The channel balances round-robin over the addresses and health-checks each
// (grpc.health.v1 Watch on "sluice.leader"): the leader reports it SERVING for
// as long as it leads, a standby NOT_SERVING (server/leader/standby_server.h),
// so calls go only to the leader, and move to the next leader by themselves
// after a takeover. It is not a Sluice service's health, which follows the
// database: a leader whose database is away still gets calls, and answers
// them UNAVAILABLE with the reason. Any gRPC client can do the same with this
// service config.
#ifndef SLUICE_COMMON_COORDINATOR_TARGET_H_
#define SLUICE_COMMON_COORDINATOR_TARGET_H_

#include <string>

#include "absl/status/statusor.h"

namespace sluice {

struct CoordinatorTarget {
  std::string uri;             // for grpc::CreateCustomChannel
  std::string service_config;  // JSON, for GRPC_ARG_SERVICE_CONFIG
};

// The health name that tells the leader from a standby.
inline constexpr char kLeaderHealthService[] = "sluice.leader";

// INVALID_ARGUMENT for an empty or malformed list, or a name that does not
// resolve.
absl::StatusOr<CoordinatorTarget> ParseCoordinatorTarget(const std::string& spec);

}  // namespace sluice

#endif  // SLUICE_COMMON_COORDINATOR_TARGET_H_
