// Only USER requests count as accesses (seed 000); priorities stack.
#include "tests/server/queue/queue_fixture.h"

namespace sluice::testing {
namespace {

class EnqueueTest : public QueueFixture {
 protected:
  void SeedCharacter(int64_t id) {
    Exec("INSERT INTO character_static (character_id, name, last_modified) VALUES (" +
         std::to_string(id) + ", 'Pilot', to_timestamp(1800000000 - 3600))");
  }
};

TEST_F(EnqueueTest, UserPriorityIncrementsAccessCount) {
  SeedCharacter(5);
  ASSERT_TRUE(queue_->Enqueue("character", {5}, Priority::kUser).ok());
  ASSERT_TRUE(queue_->Enqueue("character", {5}, Priority::kUser).ok());
  EXPECT_EQ(db_->Query("SELECT access_count FROM character_static WHERE character_id = 5"), "2");
  EXPECT_EQ(db_->Query("SELECT weight FROM discovery_queue WHERE entity_id = 5"), "3");
}

TEST_F(EnqueueTest, ManualAndBackgroundDoNotCountAccesses) {
  SeedCharacter(5);
  ASSERT_TRUE(queue_->Enqueue("character", {5}, Priority::kManual).ok());
  ASSERT_TRUE(queue_->Enqueue("character", {5}, Priority::kBackground).ok());
  EXPECT_EQ(db_->Query("SELECT access_count FROM character_static WHERE character_id = 5"), "0");
  EXPECT_EQ(db_->Query("SELECT weight FROM discovery_queue WHERE entity_id = 5"), "1");
}

TEST_F(EnqueueTest, AccessesBeforeTheFirstFetchAreKept) {
  // A user asks for a character the database has never seen: the access is
  // held on the task and lands on the entity row when it is first written.
  ASSERT_TRUE(queue_->Enqueue("character", {6}, Priority::kUser).ok());
  auto t = LeaseOrDie({"character"}, 1);
  ASSERT_EQ(t.size(), 1u);
  Completion c;
  c.task_id = t[0].task_id;
  c.fencing_token = t[0].fencing_token;
  v1::EntityRecord r;
  r.mutable_character()->set_character_id(6);
  r.mutable_character()->set_name("New");
  c.payload = Records({r});
  ASSERT_TRUE(queue_->Complete(c).ok());
  EXPECT_EQ(db_->Query("SELECT access_count FROM character_static WHERE character_id = 6"), "1");
}

TEST_F(EnqueueTest, RequeueRaisesPriorityButNeverLowersIt) {
  ASSERT_TRUE(queue_->Enqueue("character", {5}, Priority::kBackground).ok());
  auto r = queue_->Enqueue("character", {5}, Priority::kUser);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->enqueued, 0);
  EXPECT_EQ(r->already_queued, 1);
  EXPECT_EQ(db_->Query("SELECT priority FROM discovery_queue"), "7");
  ASSERT_TRUE(queue_->Enqueue("character", {5}, Priority::kBackground).ok());
  EXPECT_EQ(db_->Query("SELECT priority FROM discovery_queue"), "7");
}

TEST_F(EnqueueTest, DuplicateIdsInOneRequestAreQueuedOnce) {
  auto r = queue_->Enqueue("character", {5, 5, 6, 5}, Priority::kManual);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->enqueued, 2);
}

TEST_F(EnqueueTest, InvalidRequestsNameTheField) {
  auto r = queue_->Enqueue("character", {}, Priority::kManual);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  r = queue_->Enqueue("nonsense", {1}, Priority::kManual);
  EXPECT_NE(r.status().message().find("kind"), std::string::npos);
  r = queue_->Enqueue("character", {1, -2}, Priority::kManual);
  EXPECT_NE(r.status().message().find("ids[1]"), std::string::npos) << r.status();
  r = queue_->Enqueue("alliance_ids", {5}, Priority::kManual);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM discovery_queue"), 0);
}

}  // namespace
}  // namespace sluice::testing
