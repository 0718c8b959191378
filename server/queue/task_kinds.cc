#include "server/queue/task_kinds.h"

namespace sluice {

const std::vector<TaskKind>& AllTaskKinds() {
  static const std::vector<TaskKind>* kKinds = new std::vector<TaskKind>{
      {"alliance_ids", "", "", v1::EntityRecord::RECORD_NOT_SET, true},
      {"alliance", "alliance_static", "alliance_id", v1::EntityRecord::kAlliance, false},
      {"alliance_corporations", "alliance_static", "alliance_id", v1::EntityRecord::RECORD_NOT_SET,
       false},
      {"corporation", "corporation_static", "corporation_id", v1::EntityRecord::kCorporation,
       false},
      {"corporation_members", "corporation_static", "corporation_id",
       v1::EntityRecord::RECORD_NOT_SET, false},
      {"character", "character_static", "character_id", v1::EntityRecord::kCharacter, false},
  };
  return *kKinds;
}

const TaskKind* FindTaskKind(const std::string& name) {
  for (const TaskKind& k : AllTaskKinds()) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

std::string TaskKindNames() {
  std::string out;
  for (const TaskKind& k : AllTaskKinds()) {
    if (!out.empty()) out += ", ";
    out += k.name;
  }
  return out;
}

}  // namespace sluice
