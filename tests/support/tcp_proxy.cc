#include "tests/support/tcp_proxy.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <regex>
#include <stdexcept>

namespace sluice::testing {

TcpProxy::TcpProxy(std::string target_host, int target_port)
    : host_(std::move(target_host)), target_port_(target_port) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listen_fd_, 64) != 0) {
    throw std::runtime_error("TcpProxy: cannot listen");
  }
  socklen_t len = sizeof(addr);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

TcpProxy::~TcpProxy() {
  stop_ = true;
  shutdown(listen_fd_, SHUT_RDWR);
  close(listen_fd_);
  acceptor_.join();
  CloseAll();
  for (auto& t : threads_) t.join();
}

void TcpProxy::SetUp(bool up) {
  up_ = up;
  if (!up) CloseAll();
}

void TcpProxy::CloseAll() {
  std::lock_guard<std::mutex> lock(mu_);
  for (int fd : fds_) shutdown(fd, SHUT_RDWR);
}

void TcpProxy::AcceptLoop() {
  while (!stop_) {
    int client = accept(listen_fd_, nullptr, nullptr);
    if (client < 0) {
      if (stop_) return;
      continue;
    }
    if (!up_) {
      close(client);
      continue;
    }
    addrinfo hints{}, *res = nullptr;
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host_.c_str(), std::to_string(target_port_).c_str(), &hints, &res) != 0) {
      close(client);
      continue;
    }
    int server = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(server, res->ai_addr, res->ai_addrlen) != 0) {
      freeaddrinfo(res);
      close(client);
      close(server);
      continue;
    }
    freeaddrinfo(res);
    std::lock_guard<std::mutex> lock(mu_);
    fds_.insert(client);
    fds_.insert(server);
    threads_.emplace_back([this, client, server] {
      Pump(client, server);
      std::lock_guard<std::mutex> l(mu_);
      fds_.erase(client);
      fds_.erase(server);
      close(client);
      close(server);
    });
  }
}

void TcpProxy::Pump(int a, int b) {
  pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
  char buf[65536];
  while (!stop_) {
    if (poll(fds, 2, 200) < 0) return;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t n = read(fds[i].fd, buf, sizeof(buf));
        if (n <= 0) return;
        int to = i == 0 ? b : a;
        for (ssize_t off = 0; off < n;) {
          // MSG_NOSIGNAL: a peer that closed first must not SIGPIPE the test.
          ssize_t w = send(to, buf + off, n - off, MSG_NOSIGNAL);
          if (w <= 0) return;
          off += w;
        }
      }
    }
  }
}

std::pair<std::string, int> DsnHostPort(const std::string& dsn) {
  std::smatch m;
  std::string host = "127.0.0.1";
  int port = 5432;
  if (std::regex_search(dsn, m, std::regex("host=(\\S+)"))) host = m[1];
  if (std::regex_search(dsn, m, std::regex("port=(\\d+)"))) port = std::stoi(m[1]);
  return {host, port};
}

std::string DsnWithHostPort(const std::string& dsn, const std::string& host, int port) {
  std::string out = std::regex_replace(dsn, std::regex("host=\\S+"), "host=" + host);
  out = std::regex_replace(out, std::regex("port=\\d+"), "port=" + std::to_string(port));
  if (out.find("port=") == std::string::npos) out += " port=" + std::to_string(port);
  return out;
}

}  // namespace sluice::testing
