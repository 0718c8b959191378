#include "server/workflows/contracts/contract_extensions.h"

#include <glog/logging.h>

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "server/queue/task_kinds.h"
#include "server/store/payload_codec.h"
#include "server/workflows/contracts/contract_listing.h"

namespace sluice {
namespace {

class RegionExtension final : public TaskExtension {
 public:
  explicit RegionExtension(std::shared_ptr<const ContractStore> store) : store_(std::move(store)) {}
  std::string kind() const override { return contracts::kRegionKind; }

  absl::Status FillContext(pqxx::dbtransaction& txn, std::vector<LeasedTask*>& tasks,
                           TimePoint now) override {
    (void)now;
    std::vector<int64_t> regions;
    for (LeasedTask* t : tasks) regions.push_back(t->entity_id);
    auto etags = PageEtags(txn, regions);
    for (LeasedTask* t : tasks) {
      v1::ContractRegionContext context;
      auto it = etags.find(t->entity_id);
      if (it != etags.end()) {
        for (const auto& e : it->second) *context.add_pages() = e;
      }
      t->context = PackPayload(context);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<PayloadOutcome> Apply(pqxx::dbtransaction& txn, const ExtensionTask& task,
                                       const Completion& c, TimePoint now) override {
    auto result =
        UnpackPayload<v1::ContractRegionResult>(c.payload, "payload", contracts::kRegionKind);
    if (!result.ok()) return result.status();
    return store_->ApplyRegion(txn, task.entity_id, *result, now);
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

  // The regions' run rows first (ContractStore::LockRunsOfContracts), then
  // the contracts in id order, so that two batches, or a batch and a
  // region's listing, never wait for each other in opposite orders.
  std::vector<absl::StatusOr<PayloadOutcome>> ApplyAll(pqxx::dbtransaction& txn,
                                                       const std::vector<ExtensionItem>& items,
                                                       TimePoint now) override {
    std::vector<size_t> order(items.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return items[a].task.entity_id < items[b].task.entity_id;
    });
    std::vector<ExtensionItem> sorted;
    std::vector<int64_t> contract_ids;
    for (size_t i : order) {
      sorted.push_back(items[i]);
      contract_ids.push_back(items[i].task.entity_id);
    }
    store_->LockRunsOfContracts(txn, contract_ids);
    std::vector<absl::StatusOr<PayloadOutcome>> applied = TaskExtension::ApplyAll(txn, sorted, now);
    std::vector<absl::StatusOr<PayloadOutcome>> out(items.size(),
                                                    absl::InternalError("not applied"));
    for (size_t j = 0; j < order.size() && j < applied.size(); ++j) {
      out[order[j]] = std::move(applied[j]);
    }
    return out;
  }

  absl::StatusOr<PayloadOutcome> Apply(pqxx::dbtransaction& txn, const ExtensionTask& task,
                                       const Completion& c, TimePoint now) override {
    if (c.not_modified && !c.payload.has_value()) {
      return store_->ApplyItems(txn, task.entity_id, nullptr, now);
    }
    auto items =
        UnpackPayload<v1::ContractItemsResult>(c.payload, "payload", contracts::kItemsKind);
    if (!items.ok()) return items.status();
    return store_->ApplyItems(txn, task.entity_id, &*items, now);
  }

  void OnDead(pqxx::dbtransaction& txn, const ExtensionTask& task, const Failure& f,
              TimePoint now) override {
    store_->ItemsGivenUp(txn, task.entity_id, f.http_status, f.error, now);
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
    auto type = UnpackPayload<v1::UniverseTypeRecord>(c.payload, "payload", contracts::kTypeKind);
    if (!type.ok()) return type.status();
    return store_->ApplyType(txn, task.entity_id, &*type, now);
  }

  // Every failure (transient or not) bumps the type's refresh time, so a
  // type that keeps failing is not picked by the next refresh batch.
  void OnFailure(pqxx::dbtransaction& txn, const ExtensionTask& task, const Failure& f,
                 TimePoint now) override {
    store_->TypeFailed(
        txn, task.entity_id,
        f.http_status != 0 ? absl::StrCat("HTTP ", f.http_status, ": ", f.error) : f.error, now);
  }

 private:
  std::shared_ptr<const ContractStore> store_;
};

}  // namespace

absl::Status RegisterContractKinds(const ContractStoreSettings& settings, TaskKindRegistry& kinds,
                                   TaskExtensionRegistry& extensions) {
  for (const TaskKind& k : {TaskKind{contracts::kRegionKind, "", ""},
                            TaskKind{contracts::kItemsKind, "contracts", "contract_id"},
                            TaskKind{contracts::kTypeKind, "universe_types", "type_id"}}) {
    if (absl::Status s = kinds.Register(k); !s.ok()) return s;
  }
  auto store = std::make_shared<const ContractStore>(settings);
  if (absl::Status s = extensions.Register(std::make_unique<RegionExtension>(store)); !s.ok()) {
    return s;
  }
  if (absl::Status s = extensions.Register(std::make_unique<ItemsExtension>(store)); !s.ok()) {
    return s;
  }
  return extensions.Register(std::make_unique<TypeExtension>(store));
}

}  // namespace sluice
