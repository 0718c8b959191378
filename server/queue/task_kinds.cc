#include "server/queue/task_kinds.h"

#include <glog/logging.h>

#include <deque>
#include <mutex>

namespace sluice {
namespace {

struct Registry {
  std::mutex mu;
  std::deque<TaskKind> kinds;  // a deque: registering never moves a kind
};

Registry& Kinds() {
  static Registry* registry = [] {
    auto* r = new Registry;
    r->kinds = {
        {"alliance_ids", "", "", v1::EntityRecord::RECORD_NOT_SET, true},
        {"alliance", "alliance_static", "alliance_id", v1::EntityRecord::kAlliance, false},
        {"alliance_corporations", "alliance_static", "alliance_id",
         v1::EntityRecord::RECORD_NOT_SET, false},
        {"corporation", "corporation_static", "corporation_id", v1::EntityRecord::kCorporation,
         false},
        {"corporation_members", "corporation_static", "corporation_id",
         v1::EntityRecord::RECORD_NOT_SET, false},
        {"character", "character_static", "character_id", v1::EntityRecord::kCharacter, false},
    };
    return r;
  }();
  return *registry;
}

bool SameKind(const TaskKind& a, const TaskKind& b) {
  return a.name == b.name && a.entity_table == b.entity_table && a.entity_key == b.entity_key &&
         a.record == b.record && a.singleton == b.singleton;
}

}  // namespace

std::vector<TaskKind> AllTaskKinds() {
  Registry& r = Kinds();
  std::lock_guard<std::mutex> lock(r.mu);
  return std::vector<TaskKind>(r.kinds.begin(), r.kinds.end());
}

const TaskKind* FindTaskKind(const std::string& name) {
  Registry& r = Kinds();
  std::lock_guard<std::mutex> lock(r.mu);
  for (const TaskKind& k : r.kinds) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

void RegisterTaskKind(const TaskKind& kind) {
  CHECK(!kind.name.empty()) << "task kind without a name";
  Registry& r = Kinds();
  std::lock_guard<std::mutex> lock(r.mu);
  for (const TaskKind& k : r.kinds) {
    if (k.name == kind.name) {
      CHECK(SameKind(k, kind)) << "task kind '" << kind.name << "' registered twice, differently";
      return;
    }
  }
  r.kinds.push_back(kind);
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
