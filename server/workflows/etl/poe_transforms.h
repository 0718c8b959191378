// PoeTransforms is the runner of the PoE silver/gold transforms
// (db/migrations/0007_poe_layers.sql), currency first:
//
//   currency  poe_exchange_raw -> gold_currency_snapshot (currency_transform.h)
//   stashes   poe_stash_raw -> poe_stash_silver, poe_item_price_silver,
//             gold_stash_summary (stash_transform.h)
//
// Each transform has its own checkpoint row 'etl:<name>' in checkpoints whose
// cursor is the last raw_id it applied, written only through CheckpointStore.
// A batch:
//   1. reads a high-water mark: FOR SHARE on the writers' checkpoint rows
//      (every 'poe_stash:%' / 'poe_exchange:%' row) waits out any writer in
//      the middle of a commit (writers insert raw rows holding their row FOR
//      UPDATE), so every raw_id <= max(raw_id) read afterwards is committed;
//   2. in one transaction: locks its own checkpoint row FOR UPDATE, applies
//      (cursor, mark] in raw_id order (at most batch_size rows: the
//      transform reads, folds and writes them) and moves the cursor, then
//      commits.
// A failure anywhere in 2 leaves the cursor and the layers as they were, so
// the next batch redoes the same rows; a rerun with nothing new is a no-op.
// The cursor never moves backwards. Two runners (the module's loop and the
// poe_transform job, or two coordinators) serialize on the checkpoint row.
//
// Determinism: the result depends only on the raw rows and their order (see
// each transform's fold). The currency transform runs first in every pass,
// but a rate that arrives after an item was written does not revalue it.
//
// Ownership: borrows pool and clock; owns the transforms. Thread-safety: safe
// from any thread (no mutable state beyond the hook set before use).
#ifndef SLUICE_SERVER_WORKFLOWS_ETL_POE_TRANSFORMS_H_
#define SLUICE_SERVER_WORKFLOWS_ETL_POE_TRANSFORMS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "server/store/pg_pool.h"
#include "server/workflows/etl/currency_transform.h"
#include "server/workflows/etl/stash_transform.h"
#include "server/workflows/etl/transform.h"

namespace sluice::etl {

struct BatchResult {
  int64_t raw_rows = 0;      // raw rows applied
  int64_t rows_written = 0;  // silver/gold rows inserted, updated or deleted
  int64_t cursor_before = 0;
  int64_t cursor_after = 0;
  int64_t high_water = 0;
  bool caught_up = false;  // cursor_after == high_water
};

struct PassResult {
  int64_t batches = 0;
  int64_t raw_rows = 0;
  int64_t rows_written = 0;
  bool caught_up = false;
};

class PoeTransforms {
 public:
  // batch_size: raw rows per transaction (> 0).
  PoeTransforms(PgPool* pool, const Clock* clock, int batch_size)
      : pool_(pool), clock_(clock), batch_size_(batch_size > 0 ? batch_size : 1) {}

  absl::StatusOr<BatchResult> RunCurrencyBatch() { return RunBatch(currency_); }
  absl::StatusOr<BatchResult> RunStashBatch() { return RunBatch(stash_); }

  // Both transforms (currency first) until caught up, at most max_batches
  // batches each; stops early when *stop becomes true.
  absl::StatusOr<PassResult> RunPass(int max_batches, const std::atomic<bool>* stop = nullptr);

  // Tests: called inside a batch's transaction after its writes and before
  // the cursor moves; an error aborts the batch (a crash mid-batch).
  void set_before_commit_hook(std::function<absl::Status(const std::string& transform)> hook) {
    before_commit_hook_ = std::move(hook);
  }

 private:
  absl::StatusOr<int64_t> HighWater(const Transform& transform);
  absl::StatusOr<BatchResult> RunBatch(const Transform& transform);

  PgPool* const pool_;
  const Clock* const clock_;
  const int batch_size_;
  const CurrencyTransform currency_;
  const StashTransform stash_;
  std::function<absl::Status(const std::string&)> before_commit_hook_;
};

}  // namespace sluice::etl

#endif  // SLUICE_SERVER_WORKFLOWS_ETL_POE_TRANSFORMS_H_
