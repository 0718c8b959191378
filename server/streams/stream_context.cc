#include "server/streams/stream_context.h"

#include <glog/logging.h>

#include "server/streams/checkpoint_store.h"
#include "server/streams/poe_streams.h"
#include "sluice/v1/poe.pb.h"

namespace sluice::streams {

absl::Status FillStreamContexts(pqxx::dbtransaction& txn, std::vector<LeasedTask*>& tasks,
                                TimePoint now,
                                const std::function<std::string(const std::string&)>& stream_name,
                                const std::string& initial_cursor) {
  std::vector<std::string> streams;
  for (LeasedTask* t : tasks) {
    auto realm = RealmName(t->entity_id);
    if (!realm) {
      LOG(WARNING) << t->kind << " task " << t->task_id << " has entity id " << t->entity_id
                   << ", which is no realm (1 pc, 2 xbox, 3 sony): leased without a cursor";
      continue;
    }
    CheckpointStore::Ensure(txn, stream_name(*realm), initial_cursor, now);
    streams.push_back(stream_name(*realm));
  }
  auto cursors = CheckpointStore::Cursors(txn, streams);
  for (LeasedTask* t : tasks) {
    auto realm = RealmName(t->entity_id);
    if (!realm) continue;
    v1::PoeStreamContext context;
    context.set_stream(stream_name(*realm));
    context.set_realm(*realm);
    context.set_cursor(cursors[context.stream()]);
    google::protobuf::Any any;
    any.PackFrom(context);
    t->context = std::move(any);
  }
  return absl::OkStatus();
}

}  // namespace sluice::streams
