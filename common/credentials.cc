#include "common/credentials.h"

#include <sodium.h>

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/env_flags.h"

namespace sluice {
namespace {

constexpr absl::string_view kDigestPrefix = "sha256:";
constexpr size_t kMaxNameLength = 64;

bool ValidName(absl::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

absl::StatusOr<Sha256Digest> ParseDigest(absl::string_view text) {
  if (!absl::ConsumePrefix(&text, kDigestPrefix) || text.size() != 64) {
    return absl::InvalidArgumentError("the credential must be sha256: and 64 hex digits");
  }
  Sha256Digest digest;
  size_t len = 0;
  if (sodium_hex2bin(digest.data(), digest.size(), text.data(), text.size(), nullptr, &len,
                     nullptr) != 0 ||
      len != digest.size()) {
    return absl::InvalidArgumentError("the credential must be sha256: and 64 hex digits");
  }
  return digest;
}

std::vector<std::string> SplitList(absl::string_view value) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(value, ',', absl::SkipEmpty())) {
    out.emplace_back(part);
  }
  return out;
}

}  // namespace

Sha256Digest Sha256(absl::string_view data) {
  Sha256Digest out;
  crypto_hash_sha256(out.data(), reinterpret_cast<const unsigned char*>(data.data()), data.size());
  return out;
}

std::string Sha256Text(absl::string_view data) {
  const Sha256Digest d = Sha256(data);
  char hex[65];
  sodium_bin2hex(hex, sizeof(hex), d.data(), d.size());
  return absl::StrCat(kDigestPrefix, hex);
}

absl::Status Principal::CheckRoute(absl::string_view upstream, absl::string_view route) const {
  const bool upstream_ok = upstreams.empty() || std::find(upstreams.begin(), upstreams.end(),
                                                          upstream) != upstreams.end();
  const bool route_ok =
      route_prefixes.empty() ||
      std::any_of(route_prefixes.begin(), route_prefixes.end(),
                  [&](const std::string& p) { return absl::StartsWith(route, p); });
  if (upstream_ok && route_ok) return absl::OkStatus();
  std::string allowed;
  if (!upstreams.empty()) absl::StrAppend(&allowed, "upstreams ", absl::StrJoin(upstreams, ","));
  if (!route_prefixes.empty()) {
    absl::StrAppend(&allowed, allowed.empty() ? "" : " and ", "routes under ",
                    absl::StrJoin(route_prefixes, ","));
  }
  return absl::PermissionDeniedError(absl::StrCat("credential '", name, "' may not use ",
                                                  upstream.substr(0, 16), " ", route.substr(0, 128),
                                                  ": it is limited to ", allowed));
}

absl::Status CredentialSet::Add(Sha256Digest digest, Principal principal,
                                const std::string& where) {
  for (const Entry& e : entries_) {
    if (e.principal->name == principal.name) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": the name '", principal.name, "' is used twice"));
    }
    if (sodium_memcmp(e.digest.data(), digest.data(), digest.size()) == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": '", principal.name, "' has the same credential as '", e.principal->name, "'"));
    }
  }
  entries_.push_back({digest, std::make_shared<const Principal>(std::move(principal))});
  return absl::OkStatus();
}

absl::StatusOr<CredentialSet> CredentialSet::Parse(absl::string_view text) {
  if (sodium_init() < 0) return absl::InternalError("libsodium did not initialise");
  CredentialSet set;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    const size_t hash = line.find('#');
    if (hash != absl::string_view::npos) line = line.substr(0, hash);
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (fields.empty()) continue;
    const std::string where = absl::StrCat("line ", line_no);
    if (fields.size() < 3) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": expected NAME ROLE sha256:HEX [upstreams=...] [routes=...]"));
    }
    Principal p;
    if (!ValidName(fields[0])) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": the name must be 1..64 of [A-Za-z0-9._-]"));
    }
    p.name = std::string(fields[0]);
    std::optional<Role> role = ParseRole(fields[1]);
    if (!role) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": unknown role '", fields[1].substr(0, 32), "' (agent, operator or team)"));
    }
    p.roles = RoleSet{*role};
    absl::StatusOr<Sha256Digest> digest = ParseDigest(fields[2]);
    if (!digest.ok())
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", digest.status().message()));
    for (size_t i = 3; i < fields.size(); ++i) {
      absl::string_view option = fields[i];
      std::vector<std::string>* target = nullptr;
      if (absl::ConsumePrefix(&option, "upstreams=")) {
        target = &p.upstreams;
      } else if (absl::ConsumePrefix(&option, "routes=")) {
        target = &p.route_prefixes;
      } else {
        return absl::InvalidArgumentError(absl::StrCat(
            where, ": unknown option '", option.substr(0, 32), "' (upstreams= or routes=)"));
      }
      if (*role != Role::kTeam) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": upstreams= and routes= limit a team, not an ", fields[1]));
      }
      *target = SplitList(option);
      if (target->empty()) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": an empty list"));
      }
    }
    if (absl::Status s = set.Add(*digest, std::move(p), where); !s.ok()) return s;
  }
  return set;
}

absl::StatusOr<CredentialSet> CredentialSet::Load(const std::string& path) {
  absl::StatusOr<std::string> text = ReadSecretFile(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<CredentialSet> set = Parse(*text);
  if (!set.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", set.status().message()));
  }
  if (set->empty()) return absl::InvalidArgumentError(path + " lists no credential");
  return set;
}

absl::Status CredentialSet::AddSharedToken(absl::string_view token) {
  if (sodium_init() < 0) return absl::InternalError("libsodium did not initialise");
  Principal p;
  p.name = "auth_token";
  p.roles = RoleSet::All();
  return Add(Sha256(token), std::move(p), "--auth_token");
}

const Principal* CredentialSet::Find(absl::string_view token) const {
  const Sha256Digest digest = Sha256(token);
  const Principal* found = nullptr;
  // Every entry is compared, whichever matches.
  for (const Entry& e : entries_) {
    if (sodium_memcmp(e.digest.data(), digest.data(), digest.size()) == 0) {
      found = e.principal.get();
    }
  }
  return found;
}

std::vector<const Principal*> CredentialSet::principals() const {
  std::vector<const Principal*> out;
  for (const Entry& e : entries_) out.push_back(e.principal.get());
  return out;
}

}  // namespace sluice
