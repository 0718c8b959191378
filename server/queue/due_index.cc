#include "server/queue/due_index.h"

#include <algorithm>

namespace sluice {

void DueIndex::Insert(State& s, int kind, const DueTask& task) {
  Erase(s, task.task_id);
  if (kind >= static_cast<int>(s.by_due.size())) {
    s.by_due.resize(kind + 1);
    s.counts.resize(kind + 1, {0, 0, 0});
  }
  s.by_due[kind].emplace(task.due, task.task_id);
  ++s.counts[kind][StateValue(task.state)];
  s.entries[task.task_id] = Entry{kind, task.state, task.due};
  if (task.state == TaskState::kLeased && !task.agent.empty()) s.agents[task.task_id] = task.agent;
}

void DueIndex::Erase(State& s, int64_t task_id) {
  auto it = s.entries.find(task_id);
  if (it == s.entries.end()) return;
  s.by_due[it->second.kind].erase({it->second.due, task_id});
  --s.counts[it->second.kind][StateValue(it->second.state)];
  s.entries.erase(it);
  s.agents.erase(task_id);
}

void DueIndex::Apply(State& s, const Op& op) {
  if (op.type == Op::kUpsert) {
    Insert(s, kinds_.Intern(op.task.kind), op.task);
  } else {
    Erase(s, op.task.task_id);
  }
}

void DueIndex::Record(Op op) {
  Apply(state_, op);
  journal_.Record(op);
}

void DueIndex::Upsert(const DueTask& task) {
  std::lock_guard<std::mutex> lock(mu_);
  taken_.erase(task.task_id);
  Record(Op{Op::kUpsert, task});
}

void DueIndex::Remove(int64_t task_id) {
  std::lock_guard<std::mutex> lock(mu_);
  taken_.erase(task_id);
  Op op{Op::kRemove, DueTask{}};
  op.task.task_id = task_id;
  Record(std::move(op));
}

std::vector<DueTask> DueIndex::TakeDue(const std::vector<std::string>& kinds, TimePoint now,
                                       int limit) {
  std::vector<DueTask> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::string& name : kinds) {
    const int id = kinds_.Find(name);
    if (id < 0 || id >= static_cast<int>(state_.by_due.size())) continue;
    int n = 0;
    for (const auto& [due, task_id] : state_.by_due[id]) {
      if (due > now || n++ >= limit) break;
      const Entry& e = state_.entries.at(task_id);
      DueTask t{task_id, name, e.state, due, std::string()};
      if (auto a = state_.agents.find(task_id); a != state_.agents.end()) t.agent = a->second;
      out.push_back(std::move(t));
    }
  }
  std::sort(out.begin(), out.end(), [](const DueTask& a, const DueTask& b) {
    return a.due != b.due ? a.due < b.due : a.task_id < b.task_id;
  });
  if (static_cast<int>(out.size()) > limit) out.resize(limit);
  for (const DueTask& t : out) {
    Op op{Op::kRemove, DueTask{}};
    op.task.task_id = t.task_id;
    Record(std::move(op));
    taken_.insert(t.task_id);
  }
  return out;
}

void DueIndex::FinishTake(const std::vector<int64_t>& taken, const std::vector<DueTask>& restore) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const DueTask& t : restore) {
    if (taken_.count(t.task_id) != 0) Record(Op{Op::kUpsert, t});
  }
  for (int64_t id : taken) taken_.erase(id);
}

bool DueIndex::AnyDue(const std::vector<std::string>& kinds, TimePoint now) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::string& name : kinds) {
    const int id = kinds_.Find(name);
    if (id < 0 || id >= static_cast<int>(state_.by_due.size())) continue;
    const auto& rows = state_.by_due[id];
    if (!rows.empty() && rows.begin()->first <= now) return true;
  }
  return false;
}

std::map<std::pair<std::string, TaskState>, int64_t> DueIndex::DueCounts(TimePoint now) const {
  std::map<std::pair<std::string, TaskState>, int64_t> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t k = 0; k < state_.by_due.size(); ++k) {
    for (const auto& [due, task_id] : state_.by_due[k]) {
      if (due > now) break;
      ++out[{kinds_.Name(static_cast<int>(k)), state_.entries.at(task_id).state}];
    }
  }
  return out;
}

std::map<std::pair<std::string, TaskState>, int64_t> DueIndex::Sizes() const {
  std::map<std::pair<std::string, TaskState>, int64_t> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t k = 0; k < state_.counts.size(); ++k) {
    for (TaskState state : {TaskState::kLeased, TaskState::kWaiting}) {
      if (const int64_t n = state_.counts[k][StateValue(state)]; n > 0) {
        out[{kinds_.Name(static_cast<int>(k)), state}] = n;
      }
    }
  }
  return out;
}

std::vector<int64_t> DueIndex::LeasedBy(const std::string& agent) const {
  std::vector<int64_t> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [task_id, a] : state_.agents) {
    if (a == agent) out.push_back(task_id);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::map<std::pair<std::string, std::string>, int64_t> DueIndex::LeasesByAgent(
    TimePoint now) const {
  std::map<std::pair<std::string, std::string>, int64_t> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [task_id, a] : state_.agents) {
    const Entry& e = state_.entries.at(task_id);
    if (e.due > now) ++out[{kinds_.Name(e.kind), a}];
  }
  return out;
}

void DueIndex::BeginReload() {
  std::lock_guard<std::mutex> lock(mu_);
  journal_.Begin();
}

void DueIndex::AbortReload() {
  std::lock_guard<std::mutex> lock(mu_);
  journal_.Abort();
}

void DueIndex::FinishReload(const std::vector<DueTask>& loaded) {
  // Built without the lock; only the kinds are interned under it.
  absl::flat_hash_map<std::string, int> ids;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ids = kinds_.InternAll(loaded);
  }
  State fresh;
  fresh.entries.reserve(loaded.size());
  for (const DueTask& t : loaded) Insert(fresh, ids.at(t.kind), t);
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const Op& op : journal_.Finish()) Apply(fresh, op);
    std::swap(state_, fresh);
  }
}

}  // namespace sluice
