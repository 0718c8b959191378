#include "server/store/task_extension.h"

#include "server/store/savepoint.h"

namespace sluice {

std::vector<absl::StatusOr<PayloadOutcome>> TaskExtension::ApplyAll(
    pqxx::dbtransaction& txn, const std::vector<ExtensionItem>& items, TimePoint now) {
  std::vector<absl::StatusOr<PayloadOutcome>> out;
  out.reserve(items.size());
  for (const ExtensionItem& item : items) {
    // A savepoint per payload: a payload that fails rolls back alone.
    out.push_back(UnderSavepoint(txn, "sluice_payload", "payload",
                                 [&] { return Apply(txn, item.task, *item.completion, now); }));
  }
  return out;
}

absl::Status TaskExtensionRegistry::Register(std::unique_ptr<TaskExtension> extension) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string kind = extension->kind();
  if (!by_kind_.emplace(kind, std::move(extension)).second) {
    return absl::AlreadyExistsError("task kind '" + kind + "' already has an extension");
  }
  return absl::OkStatus();
}

TaskExtension* TaskExtensionRegistry::Find(const std::string& kind) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_kind_.find(kind);
  return it == by_kind_.end() ? nullptr : it->second.get();
}

}  // namespace sluice
