// ReloadJournal: what changed in one of the queue's in-memory indexes
// (ready_index.h, due_index.h) while it was being rebuilt from the table.
// The rebuild reads the table in one snapshot taken after Begin, builds the
// new state without the index's lock, then replays Finish()'s changes on
// top of it and swaps it in: a change made during the read is never lost,
// whether or not the snapshot saw it (each change is idempotent).
//
// Thread-safety: none; the owning index guards it with its own mutex.
#ifndef SLUICE_SERVER_QUEUE_RELOAD_JOURNAL_H_
#define SLUICE_SERVER_QUEUE_RELOAD_JOURNAL_H_

#include <optional>
#include <utility>
#include <vector>

namespace sluice {

template <typename Op>
class ReloadJournal {
 public:
  // A reload starts: changes are kept from now on.
  void Begin() { ops_.emplace(); }
  // The reload failed: nothing to replay.
  void Abort() { ops_.reset(); }
  // A change the index has applied to its current state.
  void Record(const Op& op) {
    if (ops_) ops_->push_back(op);
  }
  // The reload is over: the changes since Begin, oldest first.
  std::vector<Op> Finish() {
    std::vector<Op> out = ops_ ? std::move(*ops_) : std::vector<Op>();
    ops_.reset();
    return out;
  }

 private:
  std::optional<std::vector<Op>> ops_;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_QUEUE_RELOAD_JOURNAL_H_
