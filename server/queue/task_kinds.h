// TaskKindRegistry holds the task kinds one coordinator knows: for each, the
// entity table whose access_count feeds urgency and whose last_modified a
// 304 refreshes. Kind names are wire strings (Task.kind); table names are
// constants from the modules that register them, never user input, so SQL
// may embed them.
//
// Every kind comes from a workflow module (the core ESI sync included,
// server/workflows/esi/); the coordinator builds one registry and hands it to
// the queue, the store and the modules, so two coordinators in one process
// may know different kinds.
//
// Ownership: owned by its coordinator; a returned TaskKind* stays valid for
// the registry's life. Thread-safety: Register and the lookups may run
// concurrently.
#ifndef SLUICE_SERVER_QUEUE_TASK_KINDS_H_
#define SLUICE_SERVER_QUEUE_TASK_KINDS_H_

#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace sluice {

struct TaskKind {
  std::string name;
  // Static entity table and its key, or empty for kinds with no entity
  // (alliance_ids: a single list task, entity id 0).
  std::string entity_table;
  std::string entity_key;
  // Only entity id 0 is valid.
  bool singleton = false;
  // Its table is listed in entity counts (sluicectl entities) under this
  // kind's name: one kind per table says so.
  bool listed = false;

  bool operator==(const TaskKind& o) const {
    return name == o.name && entity_table == o.entity_table && entity_key == o.entity_key &&
           singleton == o.singleton && listed == o.listed;
  }
};

class TaskKindRegistry {
 public:
  TaskKindRegistry() = default;
  TaskKindRegistry(const TaskKindRegistry&) = delete;
  TaskKindRegistry& operator=(const TaskKindRegistry&) = delete;

  // Adds a kind. The same definition again is fine (OK); another definition
  // under a known name is ALREADY_EXISTS: two modules would disagree on what
  // the kind's tasks are.
  absl::Status Register(const TaskKind& kind);
  // nullptr if unknown.
  const TaskKind* Find(const std::string& name) const;
  std::vector<TaskKind> All() const;
  // Comma-separated names, for error messages.
  std::string Names() const;

 private:
  mutable std::mutex mu_;
  std::deque<TaskKind> kinds_;  // a deque: registering never moves a kind
};

}  // namespace sluice

#endif  // SLUICE_SERVER_QUEUE_TASK_KINDS_H_
