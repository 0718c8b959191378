#include "server/workflows/esi/esi_kinds.h"

#include <memory>

#include "server/store/payload_codec.h"
#include "server/store/savepoint.h"
#include "server/workflows/esi/entity_writer.h"
#include "server/workflows/esi/record_schema.h"

namespace sluice::esi {
namespace {

v1::EntityRecord::RecordCase RecordOf(const std::string& kind) {
  if (kind == kAllianceKind) return v1::EntityRecord::kAlliance;
  if (kind == kCorporationKind) return v1::EntityRecord::kCorporation;
  if (kind == kCharacterKind) return v1::EntityRecord::kCharacter;
  return v1::EntityRecord::RECORD_NOT_SET;
}

int64_t RecordId(const v1::EntityRecord& r) {
  switch (r.record_case()) {
    case v1::EntityRecord::kAlliance:
      return r.alliance().alliance_id();
    case v1::EntityRecord::kCorporation:
      return r.corporation().corporation_id();
    case v1::EntityRecord::kCharacter:
      return r.character().character_id();
    default:
      return 0;
  }
}

// Alliance, corporation and character tasks complete with the entity's
// records (v1.EntityRecords); a 304 carries none.
class EntityRecordsExtension final : public TaskExtension {
 public:
  explicit EntityRecordsExtension(std::string kind) : kind_(std::move(kind)) {}
  std::string kind() const override { return kind_; }

  absl::StatusOr<PayloadOutcome> Apply(pqxx::dbtransaction& txn, const ExtensionTask& task,
                                       const Completion& c, TimePoint now) override {
    auto records = Records(task, c);
    if (!records.ok()) return records.status();
    PayloadOutcome out;
    out.records_written = WriteEntityRecords(txn, *records, now);
    return out;
  }

  // Records of the whole batch go in one statement per table; an item whose
  // records do not fit its task fails alone before anything is written, and
  // if the database still refuses the batch, each item is written on its own
  // so that only the one it refuses fails.
  std::vector<absl::StatusOr<PayloadOutcome>> ApplyAll(pqxx::dbtransaction& txn,
                                                       const std::vector<ExtensionItem>& items,
                                                       TimePoint now) override {
    std::vector<absl::StatusOr<PayloadOutcome>> out(items.size(), PayloadOutcome{});
    std::vector<v1::EntityRecord> all;
    for (size_t i = 0; i < items.size(); ++i) {
      auto records = Records(items[i].task, *items[i].completion);
      if (!records.ok()) {
        out[i] = records.status();
        continue;
      }
      out[i]->records_written = static_cast<int>(records->size());
      all.insert(all.end(), records->begin(), records->end());
    }
    if (all.empty()) return out;
    absl::Status batch = UnderSavepoint(txn, "sluice_entity_records", "entity records", [&] {
      WriteEntityRecords(txn, all, now);
      return absl::OkStatus();
    });
    if (batch.ok()) return out;
    for (size_t i = 0; i < items.size(); ++i) {
      if (!out[i].ok()) continue;
      out[i] = UnderSavepoint(txn, "sluice_entity_record", "entity records",
                              [&] { return Apply(txn, items[i].task, *items[i].completion, now); });
    }
    return out;
  }

 private:
  absl::StatusOr<std::vector<v1::EntityRecord>> Records(const ExtensionTask& task,
                                                        const Completion& c) const {
    if (!c.payload.has_value()) return std::vector<v1::EntityRecord>{};
    if (c.not_modified) {
      return absl::InvalidArgumentError("records must be empty when not_modified is set");
    }
    auto records = UnpackPayload<v1::EntityRecords>(c.payload, "records", kind_);
    if (!records.ok()) return records.status();
    std::vector<v1::EntityRecord> out(records->records().begin(), records->records().end());
    for (size_t i = 0; i < out.size(); ++i) {
      if (out[i].record_case() == v1::EntityRecord::RECORD_NOT_SET) {
        return absl::InvalidArgumentError("records[" + std::to_string(i) + "]: no record set");
      }
      if (absl::Status s = CheckRecordFitsTask(kind_, task.entity_id, out[i], i); !s.ok()) {
        return s;
      }
      if (absl::Status s = CheckEntityRecord(out[i], "records[" + std::to_string(i) + "]");
          !s.ok()) {
        return s;
      }
    }
    return out;
  }

  const std::string kind_;
};

}  // namespace

absl::Status CheckRecordFitsTask(const std::string& kind, int64_t entity_id,
                                 const v1::EntityRecord& r, size_t index) {
  const std::string field = "records[" + std::to_string(index) + "]";
  const v1::EntityRecord::RecordCase expected = RecordOf(kind);
  if (r.record_case() != expected || expected == v1::EntityRecord::RECORD_NOT_SET) {
    return absl::InvalidArgumentError(field + ": a '" + kind +
                                      "' task cannot carry this record type");
  }
  if (RecordId(r) != entity_id) {
    return absl::InvalidArgumentError(field + ": record id " + std::to_string(RecordId(r)) +
                                      " does not match the task's entity id " +
                                      std::to_string(entity_id));
  }
  return absl::OkStatus();
}

absl::Status RegisterEsiKinds(TaskKindRegistry& kinds, TaskExtensionRegistry& extensions) {
  const TaskKind all[] = {
      {kAllianceIdsKind, "", "", /*singleton=*/true, /*listed=*/false},
      {kAllianceKind, "alliance_static", "alliance_id", false, true},
      {kAllianceCorporationsKind, "alliance_static", "alliance_id", false, false},
      {kCorporationKind, "corporation_static", "corporation_id", false, true},
      {kCorporationMembersKind, "corporation_static", "corporation_id", false, false},
      {kCharacterKind, "character_static", "character_id", false, true},
  };
  for (const TaskKind& k : all) {
    if (absl::Status s = kinds.Register(k); !s.ok()) return s;
  }
  for (const char* kind : {kAllianceKind, kCorporationKind, kCharacterKind}) {
    absl::Status s = extensions.Register(std::make_unique<EntityRecordsExtension>(kind));
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace sluice::esi
