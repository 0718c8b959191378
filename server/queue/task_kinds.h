// The task kinds the coordinator knows: for each, the entity table whose
// access_count feeds urgency, and which record type a completion may carry.
// Kind names are wire strings (Task.kind); table names here are constants,
// never user input, so SQL may embed them.
//
// The core ESI kinds are built in; workflow kinds (killmails, contracts,
// streams) are added with RegisterTaskKind when their module registers.
//
// Thread-safety: RegisterTaskKind and the lookups may run concurrently;
// a returned TaskKind* stays valid for the life of the process.
#ifndef SLUICE_SERVER_QUEUE_TASK_KINDS_H_
#define SLUICE_SERVER_QUEUE_TASK_KINDS_H_

#include <string>
#include <vector>

#include "sluice/v1/entities.pb.h"

namespace sluice {

struct TaskKind {
  std::string name;
  // Static entity table and its key, or empty for kinds with no entity
  // (alliance_ids: a single list task, entity id 0).
  std::string entity_table;
  std::string entity_key;
  // The record a completion of this kind may carry, or RECORD_NOT_SET.
  v1::EntityRecord::RecordCase record = v1::EntityRecord::RECORD_NOT_SET;
  // Only entity id 0 is valid.
  bool singleton = false;
};

// nullptr if unknown.
const TaskKind* FindTaskKind(const std::string& name);
std::vector<TaskKind> AllTaskKinds();
// Adds a kind; registering the same name again is a no-op if the definition
// is identical and a fatal error otherwise.
void RegisterTaskKind(const TaskKind& kind);
// Comma-separated names, for error messages.
std::string TaskKindNames();

}  // namespace sluice

#endif  // SLUICE_SERVER_QUEUE_TASK_KINDS_H_
