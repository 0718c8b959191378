// KindInterner: task kind names to small dense ids, for the queue's
// in-memory indexes (ready_index.h, due_index.h), which keep their per-kind
// state in arrays indexed by id. Ids are never reused or forgotten: there is
// one per registered task kind, a few dozen.
//
// Thread-safety: none; the owning index guards it with its own mutex.
#ifndef SLUICE_SERVER_QUEUE_KIND_INTERNER_H_
#define SLUICE_SERVER_QUEUE_KIND_INTERNER_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace sluice {

class KindInterner {
 public:
  // The id of `kind`, new if it has none yet.
  int Intern(const std::string& kind) {
    auto it = ids_.find(kind);
    if (it != ids_.end()) return it->second;
    const int id = static_cast<int>(names_.size());
    names_.push_back(kind);
    ids_.emplace(kind, id);
    return id;
  }

  // The id of `kind`, or -1 if it was never interned.
  int Find(const std::string& kind) const {
    auto it = ids_.find(kind);
    return it == ids_.end() ? -1 : it->second;
  }

  const std::string& Name(int id) const { return names_[id]; }

  // Interns the kinds of `rows` (anything with a `kind` member) and returns
  // every id, so that a reload can build its state without the index's lock.
  template <typename Row>
  absl::flat_hash_map<std::string, int> InternAll(const std::vector<Row>& rows) {
    for (const Row& r : rows) Intern(r.kind);
    return ids_;
  }

 private:
  std::vector<std::string> names_;
  absl::flat_hash_map<std::string, int> ids_;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_QUEUE_KIND_INTERNER_H_
