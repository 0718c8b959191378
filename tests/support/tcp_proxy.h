// TcpProxy forwards a local port to a TCP target (the test PostgreSQL), and
// can cut every connection and refuse new ones: a real database outage as
// the coordinator sees it, without stopping the shared test cluster.
//
// Thread-safety: all methods are safe from any thread.
#ifndef SLUICE_TESTS_SUPPORT_TCP_PROXY_H_
#define SLUICE_TESTS_SUPPORT_TCP_PROXY_H_

#include <atomic>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace sluice::testing {

class TcpProxy {
 public:
  TcpProxy(std::string target_host, int target_port);
  ~TcpProxy();

  int port() const { return port_; }
  // false: close all connections and refuse new ones; true: forward again.
  void SetUp(bool up);

 private:
  void AcceptLoop();
  void Pump(int from, int to);
  void CloseAll();

  std::string host_;
  int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> up_{true};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::set<int> fds_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

// Host and port from a libpq key=value DSN ("host=... port=...").
std::pair<std::string, int> DsnHostPort(const std::string& dsn);
// The DSN with host/port replaced.
std::string DsnWithHostPort(const std::string& dsn, const std::string& host, int port);

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_SUPPORT_TCP_PROXY_H_
