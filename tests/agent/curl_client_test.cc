// CurlClient against a real HTTP server on 127.0.0.1.
#include "agent/http/curl_client.h"
#include "tests/support/ports.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <mutex>
#include <set>
#include <thread>

namespace sluice::agent {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class CurlClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.set_keep_alive_max_count(1000);
    server_.Get("/echo", [this](const httplib::Request& req, httplib::Response& res) {
      Record(req);
      res.set_header("ETag", "\"v1\"");
      res.set_header("X-ESI-Error-Limit-Remain", "99");
      res.set_content("ua=" + req.get_header_value("User-Agent") +
                          "\ninm=" + req.get_header_value("If-None-Match") +
                          "\nauth=" + req.get_header_value("Authorization"),
                      "text/plain");
    });
    server_.Get("/missing", [this](const httplib::Request& req, httplib::Response& res) {
      Record(req);
      res.status = 404;
      res.set_header("x-esi-error-limit-remain", "98");
      res.set_content(R"({"error":"Character not found"})", "application/json");
    });
    server_.Get("/slow", [this](const httplib::Request& req, httplib::Response& res) {
      Record(req);
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      res.set_content("late", "text/plain");
    });
    server_.Get("/redirect", [this](const httplib::Request& req, httplib::Response& res) {
      Record(req);
      res.set_redirect("http://203.0.113.1/elsewhere");
    });
    server_.Get("/big", [this](const httplib::Request& req, httplib::Response& res) {
      Record(req);
      res.set_content(std::string(64 * 1024, 'x'), "application/octet-stream");
    });
    server_.Get("/json", [this](const httplib::Request& req, httplib::Response& res) {
      Record(req);
      std::string ids = "[";
      for (int i = 0; i < 2000; ++i) ids += (i ? "," : "") + std::to_string(98000000 + i);
      ids += "]";
      res.set_content(ids, "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    for (int i = 0; i < 200 && !server_.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_TRUE(server_.is_running());
  }

  void TearDown() override {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  void Record(const httplib::Request& req) {
    std::lock_guard<std::mutex> lock(mu_);
    remote_ports_.insert(req.remote_port);
    accept_encoding_ = req.get_header_value("Accept-Encoding");
    ++requests_;
  }

  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  CurlClientOptions Options() const {
    CurlClientOptions o;
    o.user_agent = MakeUserAgent("ops@example.org");
    o.connect_timeout = std::chrono::milliseconds(1000);
    o.total_timeout = std::chrono::milliseconds(5000);
    return o;
  }

  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  std::set<int> remote_ports_;
  std::string accept_encoding_;
  int requests_ = 0;
};

TEST(UserAgentTest, NamesProductVersionAndContact) {
  EXPECT_EQ(MakeUserAgent("ops@example.org"),
            std::string("sluice-agent/") + SLUICE_VERSION + " (+contact: ops@example.org)");
}

TEST_F(CurlClientTest, SendsUserAgentIfNoneMatchAndBearerToken) {
  CurlClient client(Options());
  auto r = client.Get(Url("/echo"),
                      {{"If-None-Match", "\"v0\""}, {"Authorization", "Bearer sso-token"}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_THAT(r->body, HasSubstr("ua=sluice-agent/"));
  EXPECT_THAT(r->body, HasSubstr("(+contact: ops@example.org)"));
  EXPECT_THAT(r->body, HasSubstr("inm=\"v0\""));
  EXPECT_THAT(r->body, HasSubstr("auth=Bearer sso-token"));
  EXPECT_EQ(r->headers.GetOr("etag"), "\"v1\"");
  EXPECT_EQ(r->headers.GetOr("X-Esi-Error-Limit-Remain"), "99");
}

TEST_F(CurlClientTest, HttpErrorsAreResponsesNotTransportErrors) {
  CurlClient client(Options());
  auto r = client.Get(Url("/missing"), {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 404);
  EXPECT_THAT(r->body, HasSubstr("Character not found"));
  EXPECT_EQ(r->headers.GetOr("X-ESI-Error-Limit-Remain"), "98");
}

TEST_F(CurlClientTest, TimeoutIsAnErrorNotAHang) {
  CurlClientOptions o = Options();
  o.total_timeout = std::chrono::milliseconds(200);
  CurlClient client(o);
  auto started = std::chrono::steady_clock::now();
  auto r = client.Get(Url("/slow"), {});
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
  EXPECT_LT(took, std::chrono::milliseconds(1200));
}

TEST_F(CurlClientTest, ConnectionRefusedIsUnavailable) {
  int port = sluice::testing::UnusedLoopbackPort();
  CurlClient client(Options());
  auto r = client.Get("http://127.0.0.1:" + std::to_string(port) + "/", {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
}

TEST_F(CurlClientTest, KeepAliveReusesOneConnectionForSequentialRequests) {
  CurlClient client(Options());
  for (int i = 0; i < 10; ++i) {
    auto r = client.Get(Url(i % 2 ? "/echo" : "/missing"), {});
    ASSERT_TRUE(r.ok()) << r.status();
  }
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_EQ(requests_, 10);
  EXPECT_EQ(remote_ports_.size(), 1u) << "every request should reuse the first connection";
}

TEST_F(CurlClientTest, ConcurrentCallersUseAtMostOneConnectionEach) {
  CurlClient client(Options());
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        if (client.Get(Url("/echo"), {}).ok()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 30);
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_LE(remote_ports_.size(), 3u);
}

TEST_F(CurlClientTest, RedirectsAreReturnedNotFollowed) {
  CurlClient client(Options());
  auto r = client.Get(Url("/redirect"), {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 302);
  EXPECT_EQ(r->headers.GetOr("Location"), "http://203.0.113.1/elsewhere");
}

TEST_F(CurlClientTest, AsksForGzipAndDecodesIt) {
  CurlClient client(Options());
  auto r = client.Get(Url("/json"), {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->body, StartsWith("[98000000,98000001,"));
  EXPECT_EQ(r->headers.GetOr("Content-Encoding"), "gzip");
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_THAT(accept_encoding_, HasSubstr("gzip"));
}

TEST_F(CurlClientTest, OversizedBodyIsRefused) {
  CurlClientOptions o = Options();
  o.max_body_bytes = 1024;
  CurlClient client(o);
  auto r = client.Get(Url("/big"), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted) << r.status();
}

}  // namespace
}  // namespace sluice::agent
