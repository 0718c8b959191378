#include "common/shutdown.h"

#include <glog/logging.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace sluice {
namespace {

std::mutex mu;
std::condition_variable cv;
std::atomic<bool> requested{false};
int pipe_fds[2] = {-1, -1};

void OnSignal(int sig) {
  char c = static_cast<char>(sig);
  // write() is async-signal-safe; the watcher thread does the logging.
  ssize_t ignored = write(pipe_fds[1], &c, 1);
  (void)ignored;
}

}  // namespace

void RequestShutdown() {
  {
    std::lock_guard<std::mutex> lock(mu);
    requested = true;
  }
  cv.notify_all();
}

bool ShutdownRequested() { return requested.load(); }

void InstallShutdownHandlers() {
  PCHECK(pipe(pipe_fds) == 0);
  std::thread([] {
    char c;
    while (read(pipe_fds[0], &c, 1) == 1) {
      LOG(INFO) << "received signal " << static_cast<int>(c) << ", draining";
      RequestShutdown();
    }
  }).detach();
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

bool WaitForShutdown(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu);
  return cv.wait_for(lock, timeout, [] { return requested.load(); });
}

void WaitForShutdown() {
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [] { return requested.load(); });
}

}  // namespace sluice
