// Tasks carry the job run that queued them (Task.run_id): a task queued
// under a run leases with its id, so do the tasks it discovers, and one
// queued outside any run leases with none. The queue keeps a reference to
// the run's job_runs row; the lease resolves it.
#include "tests/server/queue/queue_fixture.h"

namespace sluice::testing {
namespace {

class RunIdTest : public QueueFixture {
 protected:
  // A job run as the scheduler records it before queueing.
  void RecordRun(const std::string& run_id) {
    Exec("INSERT INTO job_runs (run_id, job, started_at, outcome) VALUES ('" + run_id +
         "', 'daily', to_timestamp(1800000000), 'running')");
  }

  // Completes a leased corporation, discovering `characters`.
  void CompleteDiscovering(const LeasedTask& t, const std::vector<int64_t>& characters) {
    Completion c;
    c.task_id = t.task_id;
    c.fencing_token = t.fencing_token;
    c.agent_id = "agent-a";
    c.payload = Records({Corporation(t.entity_id)});
    c.discovered.push_back({"character", characters, false});
    auto out = queue_->Complete(c);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out->run_id, t.run_id);
  }
};

TEST_F(RunIdTest, ATaskQueuedUnderARunAndTheTasksItDiscoversLeaseWithTheRunsId) {
  const std::string run = "daily-20270115T080000-a1b2c3";
  RecordRun("daily-20270115T070000-000000");  // another run, recorded first
  RecordRun(run);
  ASSERT_TRUE(queue_->Enqueue("corporation", {98000001}, Priority::kManual, run).ok());
  auto parent = LeaseOrDie({"corporation"}, 1);
  ASSERT_EQ(parent.size(), 1u);
  EXPECT_EQ(parent[0].run_id, run);
  CompleteDiscovering(parent[0], {2112000001, 2112000002});
  auto children = LeaseOrDie({"character"}, 10);
  ASSERT_EQ(children.size(), 2u);
  for (const LeasedTask& t : children) EXPECT_EQ(t.run_id, run) << t.entity_id;
}

TEST_F(RunIdTest, ATaskQueuedOutsideAnyRunAndWhatItDiscoversLeaseWithNone) {
  RecordRun("daily-20270115T080000-a1b2c3");
  ASSERT_TRUE(queue_->Enqueue("corporation", {98000001}, Priority::kManual).ok());
  auto parent = LeaseOrDie({"corporation"}, 1);
  ASSERT_EQ(parent.size(), 1u);
  EXPECT_EQ(parent[0].run_id, "");
  CompleteDiscovering(parent[0], {2112000001});
  auto children = LeaseOrDie({"character"}, 10);
  ASSERT_EQ(children.size(), 1u);
  EXPECT_EQ(children[0].run_id, "");
}

TEST_F(RunIdTest, OneCommitOfTasksFromTwoRunsGivesEachDiscoveryItsOwnRun) {
  RecordRun("run-a");
  RecordRun("run-b");
  ASSERT_TRUE(queue_->Enqueue("corporation", {98000001}, Priority::kManual, "run-a").ok());
  ASSERT_TRUE(queue_->Enqueue("corporation", {98000002}, Priority::kManual, "run-b").ok());
  auto parents = LeaseOrDie({"corporation"}, 2);
  ASSERT_EQ(parents.size(), 2u);
  std::vector<Completion> batch;
  std::map<int64_t, std::string> child_run;  // discovered character -> expected run
  for (const LeasedTask& t : parents) {
    Completion c;
    c.task_id = t.task_id;
    c.fencing_token = t.fencing_token;
    c.agent_id = "agent-a";
    c.payload = Records({Corporation(t.entity_id)});
    const int64_t child = t.entity_id == 98000001 ? 2112000001 : 2112000002;
    c.discovered.push_back({"character", {child}, false});
    child_run[child] = t.run_id;
    batch.push_back(std::move(c));
  }
  auto out = queue_->CompleteMany(batch);
  ASSERT_TRUE(out.ok()) << out.status();
  for (const auto& r : *out) ASSERT_TRUE(r.ok()) << r.status();
  auto children = LeaseOrDie({"character"}, 10);
  ASSERT_EQ(children.size(), 2u);
  for (const LeasedTask& t : children) EXPECT_EQ(t.run_id, child_run[t.entity_id]);
  EXPECT_EQ(child_run[2112000001], "run-a");
  EXPECT_EQ(child_run[2112000002], "run-b");
}

TEST_F(RunIdTest, AQueuedTaskJoinsARunThatQueuesItAgainButKeepsItsFirstRun) {
  RecordRun("run-a");
  RecordRun("run-b");
  ASSERT_TRUE(queue_->Enqueue("character", {5}, Priority::kManual).ok());
  ASSERT_TRUE(queue_->Enqueue("character", {5}, Priority::kManual, "run-a").ok());
  ASSERT_TRUE(queue_->Enqueue("character", {5}, Priority::kManual, "run-b").ok());
  auto t = LeaseOrDie({"character"}, 1);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].run_id, "run-a");
}

TEST_F(RunIdTest, AFailureNamesTheTasksRun) {
  RecordRun("run-a");
  ASSERT_TRUE(queue_->Enqueue("character", {5}, Priority::kManual, "run-a").ok());
  auto t = LeaseOrDie({"character"}, 1);
  ASSERT_EQ(t.size(), 1u);
  Failure f;
  f.task_id = t[0].task_id;
  f.fencing_token = t[0].fencing_token;
  f.agent_id = "agent-a";
  f.error = "boom";
  auto out = queue_->Fail(f);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->run_id, "run-a");
}

TEST_F(RunIdTest, AnUnrecordedRunIsRefusedAndQueuesNothing) {
  auto r = queue_->Enqueue("character", {5}, Priority::kManual, "daily-never-recorded");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
  EXPECT_EQ(db_->Count("SELECT count(*) FROM discovery_queue"), 0);
}

}  // namespace
}  // namespace sluice::testing
