// Process-wide shutdown signal: SIGTERM/SIGINT flip it; main loops wait on it.
//
// Thread-safety: all functions are safe from any thread. The signal handler
// only writes to a self-pipe; a watcher thread does the rest.
#ifndef SLUICE_COMMON_SHUTDOWN_H_
#define SLUICE_COMMON_SHUTDOWN_H_

#include <chrono>

namespace sluice {

// Installs SIGTERM/SIGINT handlers. Call once from main().
void InstallShutdownHandlers();
// Requests shutdown programmatically (tests, fatal conditions).
void RequestShutdown();
bool ShutdownRequested();
// Blocks until shutdown is requested or the timeout passes; true if requested.
bool WaitForShutdown(std::chrono::milliseconds timeout);
void WaitForShutdown();

}  // namespace sluice

#endif  // SLUICE_COMMON_SHUTDOWN_H_
