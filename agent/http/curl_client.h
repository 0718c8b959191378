// CurlClient is the production UpstreamClient: HTTP GETs over libcurl, and
// the one HTTP client of the project: the coordinator's OAuth token endpoint
// client (server/oauth/) posts its forms through PostForm. It builds into
// sluice_http, which the agent and the coordinator both link.
//
// Each concurrent caller borrows an easy handle from a small pool and gives it
// back afterwards, so with W worker threads there are at most W handles, each
// reused across requests: libcurl keeps the handle's connection alive and the
// next request to the same host skips the TCP/TLS handshake.
//
// Redirects are never followed: a 3xx comes back as a response, so a
// misconfigured base URL shows up as an error instead of silently talking to
// another host.
//
// Ownership: owns its handles. Thread-safety: Get() may be called from any
// number of threads concurrently.
#ifndef SLUICE_AGENT_HTTP_CURL_CLIENT_H_
#define SLUICE_AGENT_HTTP_CURL_CLIENT_H_

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

#include "agent/http/upstream_client.h"

namespace sluice::agent {

struct CurlClientOptions {
  // Sent on every request. Upstreams (ESI, PoE) ask for a product/version and
  // a way to reach the operator.
  std::string user_agent;
  std::chrono::milliseconds connect_timeout{5000};
  // Whole request, including the body transfer.
  std::chrono::milliseconds total_timeout{30000};
  // Bodies larger than this abort the transfer (keeps memory bounded).
  size_t max_body_bytes = 32 << 20;
  // Source address of upstream connections (an IP of this host); empty =
  // the kernel's choice. Upstreams bill public calls per source address, so
  // an agent that knows its address knows its budget.
  std::string bind_address;
  // Verbose libcurl tracing to stderr, for debugging.
  bool verbose = false;
};

// "sluice-agent/<version> (+contact: <contact>)".
std::string MakeUserAgent(const std::string& contact);

class CurlClient final : public UpstreamClient {
 public:
  explicit CurlClient(CurlClientOptions options);
  ~CurlClient() override;
  CurlClient(const CurlClient&) = delete;
  CurlClient& operator=(const CurlClient&) = delete;

  absl::StatusOr<HttpResponse> Get(const std::string& url, const RequestHeaders& headers) override;
  // POST of an application/x-www-form-urlencoded body (already encoded);
  // same transport rules as Get. Thread-safe like Get.
  absl::StatusOr<HttpResponse> PostForm(const std::string& url, const RequestHeaders& headers,
                                        const std::string& form_body);

 private:
  // post_body null: GET.
  absl::StatusOr<HttpResponse> Perform(const std::string& url, const RequestHeaders& headers,
                                       const std::string* post_body);
  void* Borrow();
  void Return(void* handle);

  const CurlClientOptions options_;
  std::mutex mu_;
  std::vector<void*> idle_;  // CURL* handles not in use; guarded by mu_
};

}  // namespace sluice::agent

#endif  // SLUICE_AGENT_HTTP_CURL_CLIENT_H_
