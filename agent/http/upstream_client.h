// UpstreamClient is the seam between the agent and the third-party HTTP APIs
// (ESI, PoE). Production uses CurlClient; tests substitute fakes.
//
// A transport failure (DNS, connect, timeout, oversized body) is a non-OK
// status; any HTTP answer, including 4xx/5xx, is an OK HttpResponse, because
// deciding what a status means is the handler pipeline's job, not the
// transport's.
//
// Thread-safety: implementations must allow concurrent Get() calls from every
// worker thread.
#ifndef SLUICE_AGENT_HTTP_UPSTREAM_CLIENT_H_
#define SLUICE_AGENT_HTTP_UPSTREAM_CLIENT_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/http/header_map.h"

namespace sluice::agent {

struct HttpResponse {
  int status = 0;
  HeaderMap headers;
  std::string body;
};

// Extra request headers, e.g. {"If-None-Match", "\"abc\""}.
using RequestHeaders = std::vector<std::pair<std::string, std::string>>;

class UpstreamClient {
 public:
  virtual ~UpstreamClient() = default;
  virtual absl::StatusOr<HttpResponse> Get(const std::string& url,
                                           const RequestHeaders& headers) = 0;
};

}  // namespace sluice::agent

#endif  // SLUICE_AGENT_HTTP_UPSTREAM_CLIENT_H_
