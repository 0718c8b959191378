#include "server/workflows/streams/stream_context.h"

#include "server/store/payload_codec.h"

#include <glog/logging.h>

#include "server/workflows/streams/checkpoint_store.h"
#include "server/workflows/streams/poe_streams.h"
#include "sluice/v1/poe.pb.h"

namespace sluice::streams {

absl::Status FillStreamContexts(pqxx::dbtransaction& txn, std::vector<LeasedTask*>& tasks,
                                TimePoint now,
                                const std::function<std::string(const std::string&)>& stream_name,
                                const std::string& initial_cursor,
                                const oauth::ServiceTokenSource* token) {
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
    if (token != nullptr) {
      std::string problem;
      if (auto current = token->Current(&problem)) {
        context.set_access_token(current->access_token);
      } else {
        context.set_token_problem(problem);
      }
      context.set_client_id(token->client_id());
    }
    t->context = PackPayload(context);
  }
  return absl::OkStatus();
}

namespace {

std::string StreamOf(int64_t entity_id,
                     const std::function<std::string(const std::string&)>& stream_name) {
  return stream_name(RealmName(entity_id).value_or("invalid"));
}

}  // namespace

void RecordStreamFailure(pqxx::dbtransaction& txn, int64_t entity_id, const Failure& f,
                         TimePoint now,
                         const std::function<std::string(const std::string&)>& stream_name) {
  CheckpointStore::RecordError(txn, StreamOf(entity_id, stream_name), f.http_status, f.error, now);
}

void RecordStreamDead(pqxx::dbtransaction& txn, int64_t entity_id, const Failure& f, TimePoint now,
                      const std::function<std::string(const std::string&)>& stream_name) {
  const std::string stream = StreamOf(entity_id, stream_name);
  LOG(ERROR) << "stream " << stream << " task dead-lettered (" << f.error
             << "): the stream stops until it is queued again (coordinator "
                "restart with --poe_streams_enabled, or sluicectl enqueue)";
  // OnFailure recorded the failure itself; this row says the stream stopped.
  CheckpointStore::RecordError(txn, stream, 0, "stream task dead-lettered", now);
}

}  // namespace sluice::streams
