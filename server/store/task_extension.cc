#include "server/store/task_extension.h"

#include <map>
#include <mutex>

namespace sluice {
namespace {

struct Registry {
  std::mutex mu;
  std::map<std::string, std::unique_ptr<TaskExtension>> by_kind;
};

Registry& Extensions() {
  static Registry* registry = new Registry;
  return *registry;
}

}  // namespace

void RegisterTaskExtension(std::unique_ptr<TaskExtension> extension) {
  Registry& r = Extensions();
  std::lock_guard<std::mutex> lock(r.mu);
  const std::string kind = extension->kind();
  r.by_kind.emplace(kind, std::move(extension));
}

TaskExtension* FindTaskExtension(const std::string& kind) {
  Registry& r = Extensions();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.by_kind.find(kind);
  return it == r.by_kind.end() ? nullptr : it->second.get();
}

}  // namespace sluice
