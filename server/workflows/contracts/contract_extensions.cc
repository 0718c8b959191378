#include "server/workflows/contracts/contract_extensions.h"

#include <glog/logging.h>

#include "absl/strings/str_cat.h"
#include "server/queue/task_kinds.h"

namespace sluice {
namespace {

// The payload as `Message`, or INVALID_ARGUMENT naming what came instead.
template <typename Message>
absl::Status Unpack(const Completion& c, const char* kind, Message* out) {
  if (!c.payload.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat("payload: a ", kind, " completion needs a ",
                                                   Message::descriptor()->full_name(),
                                                   " payload"));
  }
  if (!c.payload->UnpackTo(out)) {
    return absl::InvalidArgumentError(absl::StrCat("payload: a ", kind, " completion carries ",
                                                   c.payload->type_url(), ", expected ",
                                                   Message::descriptor()->full_name()));
  }
  return absl::OkStatus();
}

class RegionExtension final : public TaskExtension {
 public:
  explicit RegionExtension(std::shared_ptr<const ContractStore> store) : store_(std::move(store)) {}
  std::string kind() const override { return contracts::kRegionKind; }

  absl::Status FillContext(pqxx::dbtransaction& txn, std::vector<LeasedTask*>& tasks,
                           TimePoint now) override {
    (void)now;
    std::vector<int64_t> regions;
    for (LeasedTask* t : tasks) regions.push_back(t->entity_id);
    auto etags = store_->PageEtags(txn, regions);
    for (LeasedTask* t : tasks) {
      v1::ContractRegionContext context;
      auto it = etags.find(t->entity_id);
      if (it != etags.end()) {
        for (const auto& e : it->second) *context.add_pages() = e;
      }
      t->context.emplace();
      t->context->PackFrom(context);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<PayloadOutcome> Apply(pqxx::dbtransaction& txn, const ExtensionTask& task,
                                       const Completion& c, TimePoint now) override {
    v1::ContractRegionResult result;
    if (absl::Status s = Unpack(c, contracts::kRegionKind, &result); !s.ok()) return s;
    return store_->ApplyRegion(txn, task.entity_id, result, now);
  }

  void OnFailure(pqxx::dbtransaction& txn, const ExtensionTask& task, const Failure& f,
                 TimePoint now) override {
    store_->RegionFailed(txn, task.entity_id, f.error, f.permanent, now);
  }

 private:
  std::shared_ptr<const ContractStore> store_;
};

class ItemsExtension final : public TaskExtension {
 public:
  explicit ItemsExtension(std::shared_ptr<const ContractStore> store) : store_(std::move(store)) {}
  std::string kind() const override { return contracts::kItemsKind; }

  absl::StatusOr<PayloadOutcome> Apply(pqxx::dbtransaction& txn, const ExtensionTask& task,
                                       const Completion& c, TimePoint now) override {
    if (c.not_modified && !c.payload.has_value()) {
      return store_->ApplyItems(txn, task.entity_id, nullptr, now);
    }
    v1::ContractItemsResult items;
    if (absl::Status s = Unpack(c, contracts::kItemsKind, &items); !s.ok()) return s;
    return store_->ApplyItems(txn, task.entity_id, &items, now);
  }

  void OnFailure(pqxx::dbtransaction& txn, const ExtensionTask& task, const Failure& f,
                 TimePoint now) override {
    store_->ItemsFailed(txn, task.entity_id, f.error, f.permanent, now);
  }
  void OnDead(pqxx::dbtransaction& txn, const ExtensionTask& task, TimePoint now) override {
    store_->ItemsFailed(txn, task.entity_id, "dead-lettered (see dead_tasks)", true, now);
  }

 private:
  std::shared_ptr<const ContractStore> store_;
};

class TypeExtension final : public TaskExtension {
 public:
  explicit TypeExtension(std::shared_ptr<const ContractStore> store) : store_(std::move(store)) {}
  std::string kind() const override { return contracts::kTypeKind; }

  absl::StatusOr<PayloadOutcome> Apply(pqxx::dbtransaction& txn, const ExtensionTask& task,
                                       const Completion& c, TimePoint now) override {
    if (c.not_modified && !c.payload.has_value()) {
      return store_->ApplyType(txn, task.entity_id, nullptr, now);
    }
    v1::UniverseTypeRecord type;
    if (absl::Status s = Unpack(c, contracts::kTypeKind, &type); !s.ok()) return s;
    return store_->ApplyType(txn, task.entity_id, &type, now);
  }

  // Every failure (transient or not) bumps the type's refresh time, so a
  // type that keeps failing is not picked by the next refresh batch.
  void OnFailure(pqxx::dbtransaction& txn, const ExtensionTask& task, const Failure& f,
                 TimePoint now) override {
    store_->TypeFailed(txn, task.entity_id,
                       f.http_status != 0 ? absl::StrCat("HTTP ", f.http_status, ": ", f.error)
                                          : f.error,
                       now);
  }

 private:
  std::shared_ptr<const ContractStore> store_;
};

}  // namespace

void RegisterContractKinds(const ContractStoreSettings& settings) {
  RegisterTaskKind(TaskKind{contracts::kRegionKind, "", "", v1::EntityRecord::RECORD_NOT_SET,
                            false});
  RegisterTaskKind(TaskKind{contracts::kItemsKind, "contracts", "contract_id",
                            v1::EntityRecord::RECORD_NOT_SET, false});
  RegisterTaskKind(TaskKind{contracts::kTypeKind, "universe_types", "type_id",
                            v1::EntityRecord::RECORD_NOT_SET, false});
  auto store = std::make_shared<const ContractStore>(settings);
  RegisterTaskExtension(std::make_unique<RegionExtension>(store));
  RegisterTaskExtension(std::make_unique<ItemsExtension>(store));
  RegisterTaskExtension(std::make_unique<TypeExtension>(store));
}

}  // namespace sluice
