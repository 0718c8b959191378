#include "common/logging/log_context.h"

#include <mutex>
#include <utility>

namespace sluice::logging {
namespace {

thread_local LogIds current;

std::mutex& ProcessMutex() {
  static std::mutex* mu = new std::mutex;
  return *mu;
}

LogIds& ProcessIds() {
  static LogIds* ids = new LogIds;
  return *ids;
}

void Overlay(const LogIds& over, LogIds* base) {
  if (!over.run_id.empty()) base->run_id = over.run_id;
  if (over.task_id != 0) base->task_id = over.task_id;
  if (over.lease_id != 0) base->lease_id = over.lease_id;
  if (!over.agent_id.empty()) base->agent_id = over.agent_id;
}

}  // namespace

ScopedLogIds::ScopedLogIds(const LogIds& ids) : saved_(current) { Overlay(ids, &current); }

ScopedLogIds::~ScopedLogIds() { current = std::move(saved_); }

LogIds CurrentLogIds() {
  LogIds out;
  {
    std::lock_guard<std::mutex> lock(ProcessMutex());
    out = ProcessIds();
  }
  Overlay(current, &out);
  return out;
}

void SetProcessLogIds(const LogIds& ids) {
  std::lock_guard<std::mutex> lock(ProcessMutex());
  ProcessIds() = ids;
}

}  // namespace sluice::logging
