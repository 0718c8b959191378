// The correlation ids a log line carries where they are known: the job run,
// the task and its lease, the agent. A thread sets them for a stretch of work
// with a ScopedLogIds (RAII); the log sink (log_sink.h) reads them for every
// line that thread logs meanwhile. Process-wide ids (an agent's own id) are
// set once with SetProcessLogIds and sit under every thread's.
//
// No glog here: the pure domain libraries may use it.
// Thread-safety: scopes are per thread; SetProcessLogIds and CurrentLogIds
// are safe from any thread.
#ifndef SLUICE_COMMON_LOGGING_LOG_CONTEXT_H_
#define SLUICE_COMMON_LOGGING_LOG_CONTEXT_H_

#include <cstdint>
#include <string>

namespace sluice::logging {

// An unset id is empty or 0.
struct LogIds {
  // A job run ("daily_esi-20261206T083000-1a2b3c"), including the run a
  // leased task was queued by (Task.run_id).
  std::string run_id;
  // The queue row (Task.task_id) and the lease it is held under (its
  // fencing token).
  int64_t task_id = 0;
  int64_t lease_id = 0;
  // The agent process (LeaseTasksRequest.agent_id).
  std::string agent_id;
};

// Adds `ids` to this thread's context until destroyed: ids set here replace
// the enclosing scope's, unset ones are inherited; destruction restores the
// enclosing scope's exactly. Scopes nest and must end in reverse order (they
// are stack objects).
class ScopedLogIds {
 public:
  explicit ScopedLogIds(const LogIds& ids);
  ~ScopedLogIds();
  ScopedLogIds(const ScopedLogIds&) = delete;
  ScopedLogIds& operator=(const ScopedLogIds&) = delete;

 private:
  LogIds saved_;
};

// The process's ids with this thread's scopes over them.
LogIds CurrentLogIds();

// Ids every line of the process carries unless a scope says otherwise
// (main() sets the agent's id once it is known).
void SetProcessLogIds(const LogIds& ids);

}  // namespace sluice::logging

#endif  // SLUICE_COMMON_LOGGING_LOG_CONTEXT_H_
