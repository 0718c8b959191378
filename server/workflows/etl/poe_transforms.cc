#include "server/workflows/etl/poe_transforms.h"

#include "server/workflows/streams/checkpoint_store.h"

namespace sluice::etl {
namespace {

using streams::CheckpointStore;

// Agent id of the transitions a transform records.
constexpr char kRunner[] = "coordinator";

absl::StatusOr<int64_t> ParseCursor(const std::string& stream, const std::string& cursor) {
  if (cursor.empty()) return 0;
  bool digits = cursor.size() <= 18;
  for (char c : cursor) digits = digits && c >= '0' && c <= '9';
  if (!digits) return absl::DataLossError(stream + ": cursor '" + cursor + "' is not a raw_id");
  return std::stoll(cursor);
}

}  // namespace

absl::StatusOr<int64_t> PoeTransforms::HighWater(const Transform& transform) {
  int64_t mark = 0;
  absl::Status s = pool_->Run([&](pqxx::connection& conn) {
    pqxx::work w(conn);
    CheckpointStore::ShareLock(w, transform.writers_like());
    mark = transform.MaxRawId(w);
    w.commit();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return mark;
}

absl::StatusOr<BatchResult> PoeTransforms::RunBatch(const Transform& transform) {
  const std::string name = transform.name();
  auto mark = HighWater(transform);
  if (!mark.ok()) return mark.status();
  BatchResult result;
  result.high_water = *mark;
  if (*mark == 0) {
    // No raw row ever: nothing to do, and no checkpoint row to create yet (a
    // coordinator without PoE streams keeps its checkpoints table clean).
    result.caught_up = true;
    return result;
  }
  const TimePoint now = clock_->Now();
  absl::Status s = pool_->Run([&](pqxx::connection& conn) -> absl::Status {
    pqxx::work w(conn);
    CheckpointStore::Ensure(w, name, "", now);
    auto checkpoint = CheckpointStore::Lock(w, name);
    if (!checkpoint) return absl::InternalError(name + ": checkpoint vanished after Ensure");
    auto cursor = ParseCursor(name, checkpoint->cursor);
    if (!cursor.ok()) return cursor.status();
    result.cursor_before = result.cursor_after = *cursor;
    Applied applied;
    if (*cursor < *mark) {
      auto a = transform.Apply(w, *cursor, *mark, batch_size_);
      if (!a.ok()) return a.status();
      applied = *a;
    }
    if (before_commit_hook_) {
      if (absl::Status h = before_commit_hook_(name); !h.ok()) return h;
    }
    if (applied.raw_rows > 0 && applied.last_raw_id > *cursor) {
      result.cursor_after = applied.last_raw_id;
      CheckpointStore::Advance(w, name, std::to_string(*cursor),
                               std::to_string(applied.last_raw_id), applied.raw_rows,
                               /*page_with_data=*/true, kRunner, now,
                               /*at_head=*/applied.last_raw_id >= *mark);
    } else {
      // Nothing new: we are at the head of the raw table.
      CheckpointStore::RecordPoll(w, name, /*at_head=*/true, 0, now);
    }
    w.commit();
    result.raw_rows = applied.raw_rows;
    result.rows_written = applied.written;
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  result.caught_up = result.cursor_after >= result.high_water;
  return result;
}

absl::StatusOr<PassResult> PoeTransforms::RunPass(int max_batches, const std::atomic<bool>* stop) {
  PassResult pass;
  bool caught_up = true;
  for (const Transform* transform :
       {static_cast<const Transform*>(&currency_), static_cast<const Transform*>(&stash_)}) {
    for (int i = 0; i < max_batches; ++i) {
      if (stop && stop->load()) return pass;
      auto r = RunBatch(*transform);
      if (!r.ok()) return r.status();
      pass.batches++;
      pass.raw_rows += r->raw_rows;
      pass.rows_written += r->rows_written;
      if (r->caught_up) break;
      if (i + 1 == max_batches) caught_up = false;
    }
  }
  pass.caught_up = caught_up;
  return pass;
}

}  // namespace sluice::etl
