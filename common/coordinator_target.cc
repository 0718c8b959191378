#include "common/coordinator_target.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace sluice {
namespace {

struct HostPort {
  std::string host;  // without brackets
  std::string port;
};

absl::StatusOr<HostPort> SplitHostPort(absl::string_view item) {
  HostPort hp;
  if (absl::ConsumePrefix(&item, "[")) {
    const size_t close = item.find(']');
    if (close == absl::string_view::npos || item.substr(close + 1).rfind(':', 0) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("coordinator address \"[", item, "\": expected [IPv6]:port"));
    }
    hp.host = std::string(item.substr(0, close));
    hp.port = std::string(item.substr(close + 2));
  } else {
    const size_t colon = item.rfind(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("coordinator address \"", item, "\": expected host:port"));
    }
    hp.host = std::string(item.substr(0, colon));
    hp.port = std::string(item.substr(colon + 1));
  }
  if (hp.host.empty() || hp.port.empty() ||
      hp.port.find_first_not_of("0123456789") != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("coordinator address \"", item, "\": expected host:port"));
  }
  return hp;
}

bool IsV4(const std::string& host) {
  in_addr a;
  return inet_pton(AF_INET, host.c_str(), &a) == 1;
}

bool IsV6(const std::string& host) {
  in6_addr a;
  return inet_pton(AF_INET6, host.c_str(), &a) == 1;
}

// Every address `host` resolves to now, as ipv4:/ipv6: items.
absl::Status Resolve(const HostPort& hp, std::vector<std::string>* v4,
                     std::vector<std::string>* v6) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(hp.host.c_str(), hp.port.c_str(), &hints, &res); rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("coordinator address ", hp.host, ": ", gai_strerror(rc)));
  }
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    char text[INET6_ADDRSTRLEN] = {0};
    if (a->ai_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr, text, sizeof(text));
      v4->push_back(absl::StrCat(text, ":", hp.port));
    } else if (a->ai_family == AF_INET6) {
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr, text,
                sizeof(text));
      v6->push_back(absl::StrCat("[", text, "]:", hp.port));
    }
  }
  freeaddrinfo(res);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CoordinatorTarget> ParseCoordinatorTarget(const std::string& spec) {
  CoordinatorTarget target;
  target.service_config = absl::StrCat(
      R"({"loadBalancingConfig":[{"round_robin":{}}],"healthCheckConfig":{"serviceName":")",
      kLeaderHealthService, R"("}})");
  const std::string trimmed(absl::StripAsciiWhitespace(spec));
  if (trimmed.empty()) return absl::InvalidArgumentError("no coordinator address");
  for (const char* scheme : {"dns:", "ipv4:", "ipv6:", "unix:", "unix-abstract:"}) {
    if (trimmed.rfind(scheme, 0) == 0) {
      target.uri = trimmed;
      return target;
    }
  }
  std::vector<HostPort> items;
  for (absl::string_view item : absl::StrSplit(trimmed, ',', absl::SkipWhitespace())) {
    auto hp = SplitHostPort(absl::StripAsciiWhitespace(item));
    if (!hp.ok()) return hp.status();
    items.push_back(*hp);
  }
  if (items.empty()) return absl::InvalidArgumentError("no coordinator address");
  if (items.size() == 1 && !IsV4(items[0].host) && !IsV6(items[0].host)) {
    // gRPC's resolver re-resolves the name when connections fail: the
    // addresses may change (pods come and go).
    target.uri = absl::StrCat("dns:///", items[0].host, ":", items[0].port);
    return target;
  }
  std::vector<std::string> v4, v6;
  for (const HostPort& hp : items) {
    if (IsV4(hp.host)) {
      v4.push_back(absl::StrCat(hp.host, ":", hp.port));
    } else if (IsV6(hp.host)) {
      v6.push_back(absl::StrCat("[", hp.host, "]:", hp.port));
    } else if (absl::Status s = Resolve(hp, &v4, &v6); !s.ok()) {
      return s;
    }
  }
  if (!v4.empty() && !v6.empty()) {
    return absl::InvalidArgumentError(
        "coordinator addresses mix IPv4 and IPv6: list one family (or use one DNS name)");
  }
  target.uri = v4.empty() ? absl::StrCat("ipv6:", absl::StrJoin(v6, ","))
                          : absl::StrCat("ipv4:", absl::StrJoin(v4, ","));
  return target;
}

}  // namespace sluice
