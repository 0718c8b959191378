#include "agent/http/curl_client.h"

#include <curl/curl.h>
#include <glog/logging.h>

#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/version.h"

namespace sluice::agent {
namespace {

// curl_global_init is not thread-safe; do it once before any handle exists.
void GlobalInitOnce() {
  static const bool initialised = [] {
    CHECK_EQ(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
    return true;
  }();
  (void)initialised;
}

struct Transfer {
  HttpResponse* response;
  size_t max_body_bytes;
  bool body_too_large = false;
};

size_t OnBody(char* data, size_t size, size_t nmemb, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * nmemb;
  if (t->response->body.size() + n > t->max_body_bytes) {
    t->body_too_large = true;
    return 0;  // makes libcurl abort with CURLE_WRITE_ERROR
  }
  t->response->body.append(data, n);
  return n;
}

size_t OnHeader(char* data, size_t size, size_t nmemb, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * nmemb;
  std::string_view line(data, n);
  // A new status line starts a new response (e.g. after "100 Continue");
  // only the last response's headers count.
  if (line.substr(0, 5) == "HTTP/") {
    t->response->headers.Clear();
    return n;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  std::string name(TrimWhitespace(line.substr(0, colon)));
  std::string value(TrimWhitespace(line.substr(colon + 1)));
  if (!name.empty()) t->response->headers.Add(std::move(name), std::move(value));
  return n;
}

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

}  // namespace

std::string MakeUserAgent(const std::string& contact) {
  std::string ua = absl::StrCat("sluice-agent/", kVersion);
  if (!contact.empty()) absl::StrAppend(&ua, " (+contact: ", contact, ")");
  return ua;
}

CurlClient::CurlClient(CurlClientOptions options) : options_(std::move(options)) {
  GlobalInitOnce();
}

CurlClient::~CurlClient() {
  std::lock_guard<std::mutex> lock(mu_);
  for (void* h : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
  idle_.clear();
}

void* CurlClient::Borrow() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      void* h = idle_.back();
      idle_.pop_back();
      return h;
    }
  }
  CURL* h = curl_easy_init();
  CHECK(h != nullptr) << "curl_easy_init failed";
  return h;
}

void CurlClient::Return(void* handle) {
  std::lock_guard<std::mutex> lock(mu_);
  idle_.push_back(handle);
}

absl::StatusOr<HttpResponse> CurlClient::Get(const std::string& url,
                                             const RequestHeaders& headers) {
  return Perform(url, headers, nullptr);
}

absl::StatusOr<HttpResponse> CurlClient::PostForm(const std::string& url,
                                                  const RequestHeaders& headers,
                                                  const std::string& form_body) {
  RequestHeaders with_type = headers;
  with_type.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  return Perform(url, with_type, &form_body);
}

absl::StatusOr<HttpResponse> CurlClient::Perform(const std::string& url,
                                                 const RequestHeaders& headers,
                                                 const std::string* post_body) {
  const char* method = post_body == nullptr ? "GET" : "POST";
  CURL* curl = static_cast<CURL*>(Borrow());
  // Reset clears options but keeps the connection cache: keep-alive survives.
  curl_easy_reset(curl);

  HttpResponse response;
  Transfer transfer{&response, options_.max_body_bytes};
  curl_slist* raw_list = nullptr;
  for (const auto& [name, value] : headers) {
    std::string line = absl::StrCat(name, ": ", value);
    raw_list = curl_slist_append(raw_list, line.c_str());
    CHECK(raw_list != nullptr) << "out of memory building request headers";
  }
  std::unique_ptr<curl_slist, SlistDeleter> header_list(raw_list);
  char error[CURL_ERROR_SIZE] = {0};

  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  if (post_body == nullptr) {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, post_body->c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(post_body->size()));
  }
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // threads + timeouts: no SIGALRM
  curl_easy_setopt(curl, CURLOPT_USERAGENT, options_.user_agent.c_str());
  if (!options_.bind_address.empty()) {
    // "host!" makes libcurl bind to this address and fail rather than fall
    // back to another one: a call from an unexpected address would draw on a
    // budget the throttler does not charge.
    curl_easy_setopt(curl, CURLOPT_INTERFACE, ("host!" + options_.bind_address).c_str());
  }
  curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "gzip");
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.total_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list.get());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_VERBOSE, options_.verbose ? 1L : 0L);

  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  if (rc == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  // The handle must not point at stack buffers once this call returns.
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  Return(curl);

  if (rc != CURLE_OK) {
    std::string detail = error[0] != '\0' ? error : curl_easy_strerror(rc);
    if (transfer.body_too_large) {
      return absl::ResourceExhaustedError(
          absl::StrCat(method, " ", url, ": body larger than ", options_.max_body_bytes, " bytes"));
    }
    std::string message = absl::StrCat(method, " ", url, ": ", detail);
    if (rc == CURLE_OPERATION_TIMEDOUT) return absl::DeadlineExceededError(message);
    return absl::UnavailableError(message);
  }
  response.status = static_cast<int>(status);
  return response;
}

}  // namespace sluice::agent
