#include "server/workflows/streams/stash_stream.h"

#include <glog/logging.h>

#include <nlohmann/json.hpp>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/text.h"
#include "common/time_util.h"
#include "server/store/payload_codec.h"
#include "server/store/pg_pool.h"
#include "server/workflows/streams/change_id.h"
#include "server/workflows/streams/checkpoint_store.h"
#include "server/workflows/streams/poe_streams.h"
#include "server/workflows/streams/stream_context.h"
#include "server/workflows/streams/stream_sql.h"
#include "sluice/v1/poe.pb.h"

namespace sluice::streams {
namespace {

std::string Quoted(const std::string& s) { return nlohmann::json(s).dump(); }
// PoE omits a field it has no value for; "" is stored as NULL.
std::string QuotedOrNull(const std::string& s) { return s.empty() ? "null" : Quoted(s); }

// The JSON text of an array, or an error. Items are stored verbatim, so they
// must be a JSON array (PoE's "items").
bool IsJsonArray(const std::string& text) {
  size_t i = text.find_first_not_of(" \t\r\n");
  return i != std::string::npos && text[i] == '[' && nlohmann::json::accept(text);
}

absl::StatusOr<std::string> RealmOf(const ExtensionTask& task) {
  auto realm = RealmName(task.entity_id);
  if (!realm) {
    return absl::InvalidArgumentError(absl::StrCat("entity_id: ", task.entity_id,
                                                   " is not a realm index (1 pc, 2 xbox, 3 sony)"));
  }
  return *realm;
}

}  // namespace

std::string StashStreamExtension::kind() const { return kStashStreamKind; }

absl::Status StashStreamExtension::FillContext(pqxx::dbtransaction& txn,
                                               std::vector<LeasedTask*>& tasks, TimePoint now) {
  return FillStreamContexts(txn, tasks, now, StashStreamName, timing_.stash_start_id,
                            token_.get());
}

absl::StatusOr<PayloadOutcome> StashStreamExtension::Apply(pqxx::dbtransaction& txn,
                                                           const ExtensionTask& task,
                                                           const Completion& c, TimePoint now) {
  auto unpacked = UnpackPayload<v1::PoeStashPage>(c.payload, "payload", kStashStreamKind);
  if (!unpacked.ok()) return unpacked.status();
  const v1::PoeStashPage& page = *unpacked;
  auto realm = RealmOf(task);
  if (!realm.ok()) return realm.status();
  const std::string stream = StashStreamName(*realm);
  auto order = CompareChangeIds(page.start_cursor(), page.next_change_id());
  if (!order.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("payload: ", order.status().message()));
  }
  for (int i = 0; i < page.stashes_size(); ++i) {
    const v1::PoeStash& s = page.stashes(i);
    if (s.id().empty()) {
      return absl::InvalidArgumentError(absl::StrCat("payload.stashes[", i, "].id: empty"));
    }
    const std::string field = absl::StrCat("payload.stashes[", i, "]");
    for (absl::Status st : {CheckText(field + ".id", s.id(), 1, kMaxPoeName),
                            CheckText(field + ".account_name", s.account_name(), 0, kMaxPoeName),
                            CheckText(field + ".stash_name", s.stash_name(), 0, kMaxPoeName),
                            CheckText(field + ".stash_type", s.stash_type(), 0, kMaxPoeName),
                            CheckText(field + ".league", s.league(), 0, kMaxPoeName),
                            CheckStorableJson(field + ".items_json", s.items_json())}) {
      if (!st.ok()) return st;
    }
    if (!IsJsonArray(s.items_json())) {
      return absl::InvalidArgumentError(field + ".items_json: not a JSON array");
    }
  }

  auto checkpoint = CheckpointStore::Lock(txn, stream);
  if (!checkpoint) {
    return absl::FailedPreconditionError(absl::StrCat("stream ", stream, " has no checkpoint"));
  }
  if (checkpoint->cursor != page.start_cursor()) {
    return absl::FailedPreconditionError(
        absl::StrCat("stream ", stream, ": page starts at '", page.start_cursor(),
                     "' but the current cursor is '", checkpoint->cursor,
                     "' (stale or duplicate completion; nothing written)"));
  }

  PayloadOutcome out;
  if (*order == ChangeIdOrder::kRewind) {
    const std::string reason =
        absl::StrCat("rewind: next_change_id '", page.next_change_id(), "' is before '",
                     page.start_cursor(), "' (a counter decreased or the shard count changed)");
    LOG(WARNING) << "stream " << stream << " from agent " << c.agent_id << ": " << reason
                 << "; refused";
    CheckpointStore::RecordRejected(txn, stream, page.start_cursor(), page.next_change_id(),
                                    c.agent_id, reason, now);
    out.requeue_after = timing_.rejected_retry;
    out.rejection = absl::FailedPreconditionError("stream " + stream + ": " + reason +
                                                  " (refused and recorded; cursor unchanged)");
    return out;
  }
  if (page.stashes_size() == 0) {
    if (*order == ChangeIdOrder::kSame) {
      CheckpointStore::RecordPoll(txn, stream, /*at_head=*/true, 0, now);
      out.requeue_after = timing_.stash_poll;
    } else {
      CheckpointStore::Advance(txn, stream, page.start_cursor(), page.next_change_id(), 0,
                               /*page_with_data=*/false, c.agent_id, now);
      out.requeue_after = Duration::zero();
    }
    return out;
  }

  // Partitions first (league '' holds stashes PoE sent with league null).
  std::set<std::string> leagues;
  std::string rows = "[";
  for (int i = 0; i < page.stashes_size(); ++i) {
    const v1::PoeStash& s = page.stashes(i);
    leagues.insert(s.league());
    if (i > 0) rows += ',';
    absl::StrAppend(&rows, "{\"league\":", Quoted(s.league()), ",\"stash_id\":", Quoted(s.id()),
                    ",\"account_name\":", QuotedOrNull(s.account_name()),
                    ",\"stash_name\":", QuotedOrNull(s.stash_name()),
                    ",\"stash_type\":", QuotedOrNull(s.stash_type()),
                    ",\"public\":", s.public_() ? "true" : "false", ",\"items\":", s.items_json(),
                    "}");
  }
  rows += ']';
  txn.exec_params(stream_sql::kEnsureStashPartitions,
                  PgTextArray(std::vector<std::string>(leagues.begin(), leagues.end())),
                  checkpoint->cursor_date);
  auto inserted = txn.exec_params(stream_sql::kInsertStashes, *realm, checkpoint->cursor_date,
                                  page.start_cursor(), FormatRfc3339(now), rows);
  const int64_t count = inserted.affected_rows();
  out.records_written = static_cast<int>(count);
  if (*order == ChangeIdOrder::kSame) {
    // Data under an id that did not move: stored (deduped), polled again.
    CheckpointStore::RecordPoll(txn, stream, /*at_head=*/false, count, now);
    out.requeue_after = timing_.stash_poll;
  } else {
    CheckpointStore::Advance(txn, stream, page.start_cursor(), page.next_change_id(), count,
                             /*page_with_data=*/true, c.agent_id, now);
    out.requeue_after = Duration::zero();
  }
  return out;
}

void StashStreamExtension::OnFailure(pqxx::dbtransaction& txn, const ExtensionTask& task,
                                     const Failure& f, TimePoint now) {
  RecordStreamFailure(txn, task.entity_id, f, now, StashStreamName);
}

void StashStreamExtension::OnDead(pqxx::dbtransaction& txn, const ExtensionTask& task,
                                  const Failure& f, TimePoint now) {
  RecordStreamDead(txn, task.entity_id, f, now, StashStreamName);
}

}  // namespace sluice::streams
