// The TaskExtension seam: a workflow kind's context rides on the lease, its
// payload commits with the task's removal (or requeue) under a savepoint of
// its own, and its failure hooks run in the failure's transaction.
#include <google/protobuf/wrappers.pb.h>

#include "server/queue/task_kinds.h"
#include "server/store/task_extension.h"
#include "tests/server/queue/queue_fixture.h"

namespace sluice::testing {
namespace {

using std::chrono::seconds;

constexpr char kKind[] = "ext_test";

// Context = entity id * 2; payload = a value stored in ext_rows (CHECK v >= 0
// makes a negative value fail in the database); a value of 7 asks for a
// requeue; entity 13 cannot get a context.
class TestExtension : public TaskExtension {
 public:
  std::string kind() const override { return kKind; }

  absl::Status FillContext(pqxx::dbtransaction&, std::vector<LeasedTask*>& tasks,
                           TimePoint) override {
    for (LeasedTask* t : tasks) {
      if (t->entity_id == 13) return absl::FailedPreconditionError("no context for 13");
      google::protobuf::Int64Value v;
      v.set_value(t->entity_id * 2);
      t->context = PackPayload(v);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<PayloadOutcome> Apply(pqxx::dbtransaction& txn, const ExtensionTask& task,
                                       const Completion& c, TimePoint) override {
    auto v = UnpackPayload<google::protobuf::Int64Value>(c.payload, "payload", kKind);
    if (!v.ok()) return v.status();
    txn.exec_params("INSERT INTO ext_rows (entity_id, v) VALUES ($1, $2)", task.entity_id,
                    v->value());
    PayloadOutcome out;
    out.records_written = 1;
    if (v->value() == 7) out.requeue_after = seconds(5);
    if (v->value() == 8) out.discovered.push_back({"character", {2112000099}, false});
    return out;
  }

  void OnFailure(pqxx::dbtransaction& txn, const ExtensionTask& task, const Failure& f,
                 TimePoint) override {
    txn.exec_params("INSERT INTO ext_events (entity_id, what) VALUES ($1, $2)", task.entity_id,
                    "failure " + std::to_string(f.http_status));
  }

  void OnDead(pqxx::dbtransaction& txn, const ExtensionTask& task, const Failure& f,
              TimePoint) override {
    txn.exec_params("INSERT INTO ext_events (entity_id, what) VALUES ($1, $2)", task.entity_id,
                    "dead " + std::to_string(f.http_status));
  }
};

class ExtensionTest : public QueueFixture {
 protected:
  void SetUp() override {
    RegisterKindWithExtension(std::make_unique<TestExtension>());
    QueueFixture::SetUp();
    Exec("CREATE TABLE ext_rows (entity_id BIGINT, v BIGINT CHECK (v >= 0))");
    Exec("CREATE TABLE ext_events (entity_id BIGINT, what TEXT)");
  }

  Completion Done(const LeasedTask& t, int64_t value) {
    Completion c;
    c.task_id = t.task_id;
    c.fencing_token = t.fencing_token;
    c.agent_id = "agent-a";
    google::protobuf::Int64Value v;
    v.set_value(value);
    c.payload = PackPayload(v);
    return c;
  }
};

TEST_F(ExtensionTest, LeaseCarriesTheKindsContext) {
  ASSERT_TRUE(queue_->Enqueue(kKind, {21}, Priority::kManual).ok());
  auto t = LeaseOrDie({kKind}, 1);
  ASSERT_EQ(t.size(), 1u);
  ASSERT_TRUE(t[0].context.has_value());
  auto v = UnpackPayload<google::protobuf::Int64Value>(t[0].context, "context", kKind);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->value(), 42);
}

TEST_F(ExtensionTest, ContextFailureLeasesNothing) {
  ASSERT_TRUE(queue_->Enqueue(kKind, {13}, Priority::kManual).ok());
  auto r = queue_->Lease("agent-a", {kKind}, 1, seconds(30), Duration::zero());
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(db_->Count("SELECT count(*) FROM discovery_queue WHERE state = 1"), 0);
}

TEST_F(ExtensionTest, PayloadCommitsWithTheTasksRemoval) {
  ASSERT_TRUE(queue_->Enqueue(kKind, {1}, Priority::kManual).ok());
  auto t = LeaseOrDie({kKind}, 1);
  auto out = queue_->Complete(Done(t[0], 8));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->records_written, 1);
  EXPECT_EQ(out->tasks_queued, 1);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM ext_rows WHERE v = 8"), 1);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM discovery_queue WHERE kind = 'ext_test'"), 0);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM discovery_queue WHERE kind = 'character'"), 1);
}

TEST_F(ExtensionTest, AFailingPayloadRollsBackAloneInItsBatch) {
  ASSERT_TRUE(queue_->Enqueue(kKind, {1, 2, 3}, Priority::kManual).ok());
  auto t = LeaseOrDie({kKind}, 3);
  ASSERT_EQ(t.size(), 3u);
  // The middle one violates the CHECK constraint inside the batch's transaction.
  auto results = queue_->CompleteMany({Done(t[0], 1), Done(t[1], -1), Done(t[2], 3)});
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 3u);
  EXPECT_TRUE((*results)[0].ok()) << (*results)[0].status();
  EXPECT_FALSE((*results)[1].ok());
  EXPECT_TRUE((*results)[2].ok());
  EXPECT_EQ(db_->Count("SELECT count(*) FROM ext_rows"), 2);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM ext_rows WHERE v < 0"), 0);
  // Only the failed completion's task is still queued (and still leased).
  EXPECT_EQ(db_->Count("SELECT count(*) FROM discovery_queue WHERE kind = 'ext_test'"), 1);
  EXPECT_EQ(db_->Count("SELECT entity_id FROM discovery_queue WHERE kind = 'ext_test'"),
            t[1].entity_id);
}

TEST_F(ExtensionTest, WrongPayloadIsInvalidAndWritesNothing) {
  ASSERT_TRUE(queue_->Enqueue(kKind, {1}, Priority::kManual).ok());
  auto t = LeaseOrDie({kKind}, 1);
  Completion c = Done(t[0], 1);
  google::protobuf::StringValue wrong;
  wrong.set_value("x");
  c.payload = PackPayload(wrong);
  auto out = queue_->Complete(c);
  ASSERT_FALSE(out.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(out.status())) << out.status();
  EXPECT_EQ(db_->Count("SELECT count(*) FROM ext_rows"), 0);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM discovery_queue WHERE kind = 'ext_test'"), 1);
}

TEST_F(ExtensionTest, PayloadOnAPlainKindIsRefused) {
  ASSERT_TRUE(queue_->Enqueue("alliance_ids", {0}, Priority::kManual).ok());
  auto t = LeaseOrDie({"alliance_ids"}, 1);
  auto out = queue_->Complete(Done(t[0], 1));
  ASSERT_FALSE(out.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(out.status())) << out.status();
  EXPECT_EQ(db_->Count("SELECT count(*) FROM discovery_queue WHERE kind = 'alliance_ids'"), 1);
}

TEST_F(ExtensionTest, RequeueKeepsTheTaskForItsNextTurn) {
  ASSERT_TRUE(queue_->Enqueue(kKind, {1}, Priority::kManual).ok());
  auto t = LeaseOrDie({kKind}, 1);
  ASSERT_TRUE(queue_->Complete(Done(t[0], 7)).ok());
  EXPECT_EQ(db_->Count("SELECT count(*) FROM discovery_queue WHERE kind = 'ext_test'"), 1);
  // Not before the requeue delay; then leasable again with a new token.
  EXPECT_TRUE(LeaseOrDie({kKind}, 1).empty());
  clock_.Advance(seconds(6));
  auto again = LeaseOrDie({kKind}, 1);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_GT(again[0].fencing_token, t[0].fencing_token);
  EXPECT_EQ(again[0].attempts, 0);
  // The old lease's completion is stale now.
  EXPECT_FALSE(queue_->Complete(Done(t[0], 7)).ok());
}

TEST_F(ExtensionTest, FailureHooksRunInTheFailuresTransaction) {
  ASSERT_TRUE(queue_->Enqueue(kKind, {5}, Priority::kManual).ok());
  auto t = LeaseOrDie({kKind}, 1);
  Failure f;
  f.task_id = t[0].task_id;
  f.fencing_token = t[0].fencing_token;
  f.agent_id = "agent-a";
  f.http_status = 429;
  f.error = "rate limited";
  ASSERT_TRUE(queue_->Fail(f).ok());
  EXPECT_EQ(db_->Query("SELECT what FROM ext_events"), "failure 429");
  clock_.Advance(seconds(3600));
  t = LeaseOrDie({kKind}, 1);
  ASSERT_EQ(t.size(), 1u);
  f.task_id = t[0].task_id;
  f.fencing_token = t[0].fencing_token;
  f.permanent = true;
  f.http_status = 404;
  ASSERT_TRUE(queue_->Fail(f).ok());
  EXPECT_EQ(db_->Count("SELECT count(*) FROM ext_events WHERE what = 'dead 404'"), 1);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM ext_events WHERE what = 'failure 404'"), 1);
  // A release never reached the upstream: no hook.
  ASSERT_TRUE(queue_->Enqueue(kKind, {6}, Priority::kManual).ok());
  t = LeaseOrDie({kKind}, 1);
  Failure r;
  r.task_id = t[0].task_id;
  r.fencing_token = t[0].fencing_token;
  r.release = true;
  ASSERT_TRUE(queue_->Fail(r).ok());
  EXPECT_EQ(db_->Count("SELECT count(*) FROM ext_events WHERE entity_id = 6"), 0);
}

}  // namespace
}  // namespace sluice::testing
