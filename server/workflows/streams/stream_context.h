// Lease-time half of a stream kind: makes sure each leased stream has a
// checkpoint and hands its current cursor to the agent (PoeStreamContext).
// Used by both PoE stream extensions' FillContext.
#ifndef SLUICE_SERVER_WORKFLOWS_STREAMS_STREAM_CONTEXT_H_
#define SLUICE_SERVER_WORKFLOWS_STREAMS_STREAM_CONTEXT_H_

#include <pqxx/pqxx>

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/clock.h"
#include "server/oauth/service_token.h"
#include "server/queue/queue_types.h"

namespace sluice::streams {

// For each task: realm from the entity id, stream = stream_name(realm),
// checkpoint created with initial_cursor if missing, context = cursor, and
// (with `token`) GGG's service token and client id, or why there is none. A
// task whose entity id is not a realm gets no context (its agent cannot serve
// it, and its completion is refused); it must not fail the whole claim.
absl::Status FillStreamContexts(pqxx::dbtransaction& txn, std::vector<LeasedTask*>& tasks,
                                TimePoint now,
                                const std::function<std::string(const std::string&)>& stream_name,
                                const std::string& initial_cursor,
                                const oauth::ServiceTokenSource* token = nullptr);

// Failure hooks shared by the stream kinds. The stream is
// stream_name(realm of the task's entity id), "invalid" for a non-realm id.
// A failed fetch goes to stream_errors; a dead-lettered stream task is also
// logged: the stream stops until its task is queued again.
void RecordStreamFailure(pqxx::dbtransaction& txn, int64_t entity_id, const Failure& f,
                         TimePoint now,
                         const std::function<std::string(const std::string&)>& stream_name);
void RecordStreamDead(pqxx::dbtransaction& txn, int64_t entity_id, const Failure& f, TimePoint now,
                      const std::function<std::string(const std::string&)>& stream_name);

}  // namespace sluice::streams

#endif  // SLUICE_SERVER_WORKFLOWS_STREAMS_STREAM_CONTEXT_H_
