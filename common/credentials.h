// Who may call the coordinator: credentials, the role each holds and, for a
// team, the upstreams and routes it may ask about.
//
// The credential file (--auth_file, typically a mounted Kubernetes Secret)
// holds one credential per line; '#' starts a comment:
//
//   NAME ROLE sha256:HEX [upstreams=esi,poe] [routes=/characters/,/universe/]
//
// NAME names the holder in logs, errors and ListBudgets' per-team counters
// ([A-Za-z0-9._-], at most 64); ROLE is agent, operator or team (roles.h);
// HEX is the SHA-256 of the bearer token (64 hex digits; `sluicectl
// credential hash` or `printf %s TOKEN | sha256sum`), so the file never holds
// a usable secret. upstreams= and routes= (route template prefixes) limit a
// team; without them it may ask about any route.
//
// Thread-safety: immutable after construction; Find from any thread.
#ifndef SLUICE_COMMON_CREDENTIALS_H_
#define SLUICE_COMMON_CREDENTIALS_H_

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/roles.h"

namespace sluice {

using Sha256Digest = std::array<unsigned char, 32>;

Sha256Digest Sha256(absl::string_view data);
// "sha256:<64 lowercase hex digits>", the file's spelling.
std::string Sha256Text(absl::string_view data);

// A caller the coordinator knows. Immutable.
struct Principal {
  std::string name;
  RoleSet roles;
  // A team's limits; empty = any.
  std::vector<std::string> upstreams;
  std::vector<std::string> route_prefixes;

  // Whether this principal may ask about (upstream, route): OK, or
  // PERMISSION_DENIED naming the principal and what it may use.
  absl::Status CheckRoute(absl::string_view upstream, absl::string_view route) const;
};

class CredentialSet {
 public:
  CredentialSet() = default;

  // Parses the file format above; errors name the line, never a digest.
  static absl::StatusOr<CredentialSet> Parse(absl::string_view text);
  static absl::StatusOr<CredentialSet> Load(const std::string& path);

  // The development/compat credential (--auth_token): one bearer token that
  // holds every role, named "auth_token". Its digest is kept, not the token.
  absl::Status AddSharedToken(absl::string_view token);

  // The principal whose credential digest equals the token's, compared in
  // constant time against every entry; nullptr if none.
  const Principal* Find(absl::string_view token) const;

  bool empty() const { return entries_.empty(); }
  size_t size() const { return entries_.size(); }
  // Every principal, in file order (for counters and logs).
  std::vector<const Principal*> principals() const;

 private:
  struct Entry {
    Sha256Digest digest;
    std::shared_ptr<const Principal> principal;
  };
  absl::Status Add(Sha256Digest digest, Principal principal, const std::string& where);

  std::vector<Entry> entries_;
};

}  // namespace sluice

#endif  // SLUICE_COMMON_CREDENTIALS_H_
