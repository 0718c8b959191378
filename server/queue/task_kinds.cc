#include "server/queue/task_kinds.h"

namespace sluice {

absl::Status TaskKindRegistry::Register(const TaskKind& kind) {
  if (kind.name.empty()) return absl::InvalidArgumentError("task kind without a name");
  std::lock_guard<std::mutex> lock(mu_);
  for (const TaskKind& k : kinds_) {
    if (k.name != kind.name) continue;
    if (k == kind) return absl::OkStatus();
    return absl::AlreadyExistsError("task kind '" + kind.name +
                                    "' is already registered with another definition");
  }
  kinds_.push_back(kind);
  return absl::OkStatus();
}

const TaskKind* TaskKindRegistry::Find(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const TaskKind& k : kinds_) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

std::vector<TaskKind> TaskKindRegistry::All() const {
  std::lock_guard<std::mutex> lock(mu_);
  return std::vector<TaskKind>(kinds_.begin(), kinds_.end());
}

std::string TaskKindRegistry::Names() const {
  std::string out;
  for (const TaskKind& k : All()) {
    if (!out.empty()) out += ", ";
    out += k.name;
  }
  return out;
}

}  // namespace sluice
