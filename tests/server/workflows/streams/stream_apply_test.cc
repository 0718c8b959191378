// The stream kinds through the real queue and PostgreSQL: cursors move only
// with the rows they cover, stale and replayed pages write nothing, empty
// pages keep the cursor, rewinds are refused and recorded, exchange gaps are
// audited, one agent holds a stream at a time, and two modules in one process
// keep timings of their own.
#include <gtest/gtest.h>

#include "server/store/payload_codec.h"
#include "server/workflows/streams/poe_streams.h"
#include "server/workflows/streams/stream_module.h"
#include "sluice/v1/poe.pb.h"
#include "tests/server/queue/queue_fixture.h"

namespace sluice::testing {
namespace {

using std::chrono::seconds;
using streams::kExchangeStreamKind;
using streams::kStashStreamKind;

constexpr char kStart[] = "1000-2000-3000-4000-5000";
constexpr char kSecond[] = "1003-2005-3007-4002-5004";
constexpr char kThird[] = "1006-2010-3014-4004-5008";

v1::PoeStash Stash(const std::string& id, const std::string& league, bool is_public = true) {
  v1::PoeStash s;
  s.set_id(id);
  s.set_public_(is_public);
  s.set_account_name("Exile1");
  s.set_stash_name("~price 5 chaos");
  s.set_stash_type("PremiumStash");
  s.set_league(league);
  s.set_items_json(is_public ? R"([{"id":"a1","typeLine":"Chaos Orb","note":"~b/o 1 divine"}])"
                             : "[]");
  return s;
}

class StreamApplyTest : public QueueFixture {
 protected:
  void SetUp() override {
    QueueFixture::SetUp();
    stream_options_.stash_poll = seconds(2);
    stream_options_.exchange_poll = seconds(60);
    stream_options_.stash_start_id = kStart;
    stream_options_.exchange_start_hour = kHour0;
  }

  LeasedTask LeaseOne(const std::string& kind, const std::string& agent = "agent-a") {
    auto tasks = LeaseOrDie({kind}, 1, agent);
    EXPECT_EQ(tasks.size(), 1u);
    return tasks.empty() ? LeasedTask{} : tasks[0];
  }

  static std::string CursorOf(const LeasedTask& t) {
    auto context = UnpackPayload<v1::PoeStreamContext>(t.context, "context", t.kind);
    EXPECT_TRUE(context.ok()) << context.status();
    return context.ok() ? context->cursor() : "";
  }

  static Completion StashCompletion(const LeasedTask& t, const std::string& start,
                                    const std::string& next, std::vector<v1::PoeStash> stashes,
                                    const std::string& agent = "agent-a") {
    v1::PoeStashPage page;
    page.set_start_cursor(start);
    page.set_next_change_id(next);
    for (auto& s : stashes) *page.add_stashes() = s;
    Completion c;
    c.task_id = t.task_id;
    c.fencing_token = t.fencing_token;
    c.agent_id = agent;
    c.payload = PackPayload(page);
    return c;
  }

  static Completion ExchangeCompletion(const LeasedTask& t, int64_t start, int64_t next,
                                       int markets) {
    v1::PoeExchangePage page;
    page.set_start_hour(start);
    page.set_next_hour(next);
    for (int i = 0; i < markets; ++i) {
      v1::PoeExchangeMarket* m = page.add_markets();
      m->set_league("Settlers");
      m->set_market_id(i == 0 ? "chaos|divine" : "chaos|exalted");
      m->set_volume_traded_json(R"({"chaos": 2000, "divine": 10})");
      m->set_lowest_ratio_json(R"({"chaos": 200, "divine": 1})");
    }
    Completion c;
    c.task_id = t.task_id;
    c.fencing_token = t.fencing_token;
    c.agent_id = "agent-a";
    c.payload = PackPayload(page);
    return c;
  }

  std::string Cursor(const std::string& stream) {
    return db_->Query("SELECT cursor FROM checkpoints WHERE stream = '" + stream + "'");
  }
  int64_t StashRows() { return db_->Count("SELECT count(*) FROM poe_stash_raw"); }

  // The stream kinds are registered, by a module built from stream_options_,
  // when a test first queues a stream: a test may change the options before.
  void Enqueue(const std::string& kind) {
    if (!registered_) {
      ASSERT_TRUE(StreamModule(stream_options_).RegisterKinds(kinds_, extensions_).ok());
      registered_ = true;
    }
    auto r = queue_->Enqueue(kind, {1}, Priority::kManual);
    ASSERT_TRUE(r.ok()) << r.status();
  }

  // Ten hours before the fixture's clock (1.8e9 s), on an hour.
  static constexpr int64_t kHour0 = 1'799'996'400 / 3600 * 3600 - 10 * 3600;

  StreamOptions stream_options_;
  bool registered_ = false;
};

TEST_F(StreamApplyTest, PageWithDataStoresRowsAndAdvancesCursorTogether) {
  Enqueue(kStashStreamKind);
  LeasedTask t = LeaseOne(kStashStreamKind);
  ASSERT_EQ(CursorOf(t), kStart) << "the lease carries the checkpoint's cursor";
  auto done = queue_->Complete(
      StashCompletion(t, kStart, kSecond,
                      {Stash("s1", "Settlers"), Stash("s2", "Standard"), Stash("s3", "", false)}));
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->records_written, 3);
  EXPECT_EQ(Cursor("poe_stash:pc"), kSecond);
  EXPECT_EQ(StashRows(), 3);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM poe_stash_raw WHERE change_id = '" +
                       std::string(kStart) + "' AND realm = 'pc'"),
            3)
      << "rows carry the cursor their page was fetched with";
  EXPECT_EQ(db_->Query("SELECT public::text || '/' || league || '/' || jsonb_array_length(items) "
                       "FROM poe_stash_raw WHERE stash_id = 's3'"),
            "false//0")
      << "a stash made private is kept, with league '' and no items";
  EXPECT_EQ(db_->Query("SELECT pages || '/' || rows || '/' || empty_polls FROM checkpoints "
                       "WHERE stream = 'poe_stash:pc'"),
            "1/3/0");
  EXPECT_EQ(db_->Query("SELECT from_cursor || '>' || to_cursor || ' ' || rows || ' ' || "
                       "accepted || ' ' || agent_id FROM checkpoint_transitions"),
            std::string(kStart) + ">" + kSecond + " 3 true agent-a");
  // Stored by league and day.
  EXPECT_GE(db_->Count("SELECT count(DISTINCT tableoid) FROM poe_stash_raw"), 3);

  // The task is kept (requeued at once), with the new cursor.
  LeasedTask next = LeaseOne(kStashStreamKind);
  EXPECT_EQ(next.task_id, t.task_id);
  EXPECT_EQ(CursorOf(next), kSecond);
}

TEST_F(StreamApplyTest, EmptyPageAtTheHeadKeepsCursorAndRequeuesAfterPollDelay) {
  Enqueue(kStashStreamKind);
  LeasedTask t = LeaseOne(kStashStreamKind);
  auto done = queue_->Complete(StashCompletion(t, kStart, kStart, {}));
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(Cursor("poe_stash:pc"), kStart);
  EXPECT_EQ(StashRows(), 0);
  EXPECT_EQ(db_->Query("SELECT empty_polls || '/' || (head_at IS NOT NULL) || '/' || pages "
                       "FROM checkpoints WHERE stream = 'poe_stash:pc'"),
            "1/true/0");
  EXPECT_EQ(db_->Count("SELECT count(*) FROM checkpoint_transitions"), 0);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM discovery_queue"), 1) << "requeued, not deleted";
  EXPECT_TRUE(LeaseOrDie({kStashStreamKind}, 1).empty()) << "not before the poll delay";
  clock_.Advance(seconds(2));
  LeasedTask again = LeaseOne(kStashStreamKind);
  EXPECT_EQ(CursorOf(again), kStart) << "the same id is polled again";
}

TEST_F(StreamApplyTest, EmptyPageWithALaterIdAdvancesWithoutRows) {
  Enqueue(kStashStreamKind);
  LeasedTask t = LeaseOne(kStashStreamKind);
  ASSERT_TRUE(queue_->Complete(StashCompletion(t, kStart, kSecond, {})).ok());
  EXPECT_EQ(Cursor("poe_stash:pc"), kSecond);
  EXPECT_EQ(db_->Query("SELECT pages || '/' || empty_polls || '/' || (head_at IS NULL) "
                       "FROM checkpoints WHERE stream = 'poe_stash:pc'"),
            "0/1/true");
}

TEST_F(StreamApplyTest, ReplayedAndStaleCompletionsWriteNothing) {
  Enqueue(kStashStreamKind);
  LeasedTask t = LeaseOne(kStashStreamKind);
  const Completion first = StashCompletion(t, kStart, kSecond, {Stash("s1", "Settlers")});
  ASSERT_TRUE(queue_->Complete(first).ok());

  // The same completion again (an agent retrying after a lost answer).
  auto replay = queue_->Complete(first);
  EXPECT_EQ(replay.status().code(), absl::StatusCode::kFailedPrecondition);

  // A holder of a fresh lease sending the old page (its start cursor is no
  // longer current): refused by the checkpoint, nothing written.
  LeasedTask fresh = LeaseOne(kStashStreamKind, "agent-b");
  auto stale = queue_->Complete(StashCompletion(
      fresh, kStart, kSecond, {Stash("s1", "Settlers"), Stash("s9", "Settlers")}, "agent-b"));
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kFailedPrecondition) << stale.status();
  EXPECT_NE(stale.status().message().find("current cursor"), std::string::npos);
  EXPECT_EQ(StashRows(), 1);
  EXPECT_EQ(Cursor("poe_stash:pc"), kSecond);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM checkpoint_transitions"), 1);

  // The lease is still good for the right page.
  ASSERT_TRUE(
      queue_
          ->Complete(StashCompletion(fresh, kSecond, kThird, {Stash("s1", "Settlers")}, "agent-b"))
          .ok());
  EXPECT_EQ(StashRows(), 2) << "the same stash on a later page is a new row";
}

TEST_F(StreamApplyTest, PageReachingTheWriterTwiceInsertsNoDuplicateRows) {
  Enqueue(kStashStreamKind);
  LeasedTask t = LeaseOne(kStashStreamKind);
  std::vector<v1::PoeStash> page = {Stash("s1", "Settlers"), Stash("s2", "Hardcore Settlers")};
  ASSERT_TRUE(queue_->Complete(StashCompletion(t, kStart, kSecond, page)).ok());
  // Force the cursor back as if the first commit's cursor move had been lost:
  // the raw table's dedupe key is the last line of defence.
  Exec("UPDATE checkpoints SET cursor = '" + std::string(kStart) +
       "' WHERE stream = 'poe_stash:pc'");
  LeasedTask again = LeaseOne(kStashStreamKind);
  auto done = queue_->Complete(StashCompletion(again, kStart, kSecond, page));
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->records_written, 0);
  EXPECT_EQ(StashRows(), 2);
  EXPECT_EQ(Cursor("poe_stash:pc"), kSecond);
}

TEST_F(StreamApplyTest, RewindIsRefusedRecordedAndRetriedLater) {
  Enqueue(kStashStreamKind);
  LeasedTask t = LeaseOne(kStashStreamKind);
  ASSERT_TRUE(queue_->Complete(StashCompletion(t, kStart, kThird, {Stash("s1", "Settlers")})).ok());

  LeasedTask next = LeaseOne(kStashStreamKind);
  // Shard 2 goes back (3014 -> 3010) while the others move on.
  const std::string rewind = "1009-2015-3010-4006-5012";
  auto done = queue_->Complete(StashCompletion(next, kThird, rewind, {Stash("s2", "Settlers")}));
  ASSERT_FALSE(done.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(done.status())) << done.status();
  EXPECT_NE(done.status().message().find("rewind"), std::string::npos) << done.status();
  EXPECT_EQ(Cursor("poe_stash:pc"), kThird) << "the cursor never moves backwards";
  EXPECT_EQ(StashRows(), 1) << "no rows from a refused page";
  EXPECT_EQ(db_->Query("SELECT from_cursor || '>' || to_cursor FROM checkpoint_transitions "
                       "WHERE NOT accepted"),
            std::string(kThird) + ">" + rewind);
  EXPECT_NE(
      db_->Query("SELECT reason FROM checkpoint_transitions WHERE NOT accepted").find("rewind"),
      std::string::npos);
  EXPECT_TRUE(LeaseOrDie({kStashStreamKind}, 1).empty()) << "retried after a delay, not at once";
  clock_.Advance(seconds(30));
  LeasedTask retry = LeaseOne(kStashStreamKind);
  EXPECT_EQ(CursorOf(retry), kThird);

  // A change in shard count is a rewind too.
  EXPECT_TRUE(absl::IsFailedPrecondition(
      queue_->Complete(StashCompletion(retry, kThird, "2000-3000-4000", {})).status()));
  EXPECT_EQ(Cursor("poe_stash:pc"), kThird);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM checkpoint_transitions WHERE NOT accepted"), 2);
}

TEST_F(StreamApplyTest, BadPayloadIsInvalidArgumentNamingTheField) {
  Enqueue(kStashStreamKind);
  LeasedTask t = LeaseOne(kStashStreamKind);
  v1::PoeStash bad = Stash("s1", "Settlers");
  bad.set_items_json("{not json");
  auto r = queue_->Complete(StashCompletion(t, kStart, kSecond, {Stash("s0", "Settlers"), bad}));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("stashes[1].items_json"), std::string::npos) << r.status();
  // Each refusal costs the stream task an attempt and ends the lease; the
  // task comes back after its backoff.
  EXPECT_EQ(db_->Count("SELECT attempts FROM discovery_queue"), 1);
  clock_.Advance(std::chrono::hours(1));
  t = LeaseOne(kStashStreamKind);
  auto wrong = queue_->Complete(StashCompletion(t, kStart, "not-an-id", {}));
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
  clock_.Advance(std::chrono::hours(1));
  t = LeaseOne(kStashStreamKind);
  Completion no_payload;
  no_payload.task_id = t.task_id;
  no_payload.fencing_token = t.fencing_token;
  EXPECT_EQ(queue_->Complete(no_payload).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StashRows(), 0);
  EXPECT_EQ(Cursor("poe_stash:pc"), kStart);
}

TEST_F(StreamApplyTest, TextPostgresCannotStoreIsRefusedNamingTheFieldBeforeAnyWrite) {
  Enqueue(kStashStreamKind);
  LeasedTask t = LeaseOne(kStashStreamKind);
  v1::PoeStash nul = Stash("s1", "Settlers");
  nul.set_stash_name(std::string("Dump\0tab", 8));
  auto r = queue_->Complete(StashCompletion(t, kStart, kSecond, {nul}));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("stashes[0].stash_name"), std::string::npos) << r.status();
  clock_.Advance(std::chrono::hours(1));  // the refusal cost an attempt and a backoff
  t = LeaseOne(kStashStreamKind);
  v1::PoeStash escape = Stash("s2", "Settlers");
  escape.set_items_json(R"([{"name":"a\u0000b"}])");  // JSON, but no jsonb
  r = queue_->Complete(StashCompletion(t, kStart, kSecond, {escape}));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("stashes[0].items_json"), std::string::npos) << r.status();
  EXPECT_EQ(StashRows(), 0);
  EXPECT_EQ(Cursor("poe_stash:pc"), kStart);
}

TEST_F(StreamApplyTest, OneAgentHoldsAStreamAtATime) {
  Enqueue(kStashStreamKind);
  Enqueue(kStashStreamKind);  // the module starting twice queues nothing more
  EXPECT_EQ(db_->Count("SELECT count(*) FROM discovery_queue"), 1);
  LeasedTask a = LeaseOne(kStashStreamKind, "agent-a");
  EXPECT_TRUE(LeaseOrDie({kStashStreamKind}, 5, "agent-b").empty())
      << "the stream is held by agent-a";
  ASSERT_TRUE(
      queue_->Complete(StashCompletion(a, kStart, kSecond, {Stash("s1", "Settlers")})).ok());
  LeasedTask b = LeaseOne(kStashStreamKind, "agent-b");
  EXPECT_EQ(b.task_id, a.task_id);
  EXPECT_TRUE(LeaseOrDie({kStashStreamKind}, 5, "agent-a").empty());
  // agent-a's lease is gone: its late page is refused.
  auto late = queue_->Complete(StashCompletion(a, kSecond, kThird, {Stash("s2", "Settlers")}));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(StashRows(), 1);
}

TEST_F(StreamApplyTest, FailedFetchesAreRecordedInStreamErrors) {
  Enqueue(kStashStreamKind);
  LeasedTask t = LeaseOne(kStashStreamKind);
  Failure f;
  f.task_id = t.task_id;
  f.fencing_token = t.fencing_token;
  f.agent_id = "agent-a";
  f.http_status = 429;
  f.error = "rate limited";
  f.retry_after = seconds(10);
  ASSERT_TRUE(queue_->Fail(f).ok());
  EXPECT_EQ(db_->Query("SELECT stream || ' ' || http_status || ' ' || error FROM stream_errors"),
            "poe_stash:pc 429 rate limited");
  EXPECT_EQ(Cursor("poe_stash:pc"), kStart);
}

TEST_F(StreamApplyTest, ExchangeRecordsMissingAndSkippedHoursAsGaps) {
  Enqueue(kExchangeStreamKind);
  LeasedTask t = LeaseOne(kExchangeStreamKind);
  ASSERT_EQ(CursorOf(t), std::to_string(kHour0));
  // A past hour with no markets.
  ASSERT_TRUE(queue_->Complete(ExchangeCompletion(t, kHour0, kHour0 + 3600, 0)).ok());
  EXPECT_EQ(Cursor("poe_exchange:pc"), std::to_string(kHour0 + 3600));
  // An hour with markets whose next id jumps three hours ahead.
  LeasedTask t2 = LeaseOne(kExchangeStreamKind);
  auto done = queue_->Complete(ExchangeCompletion(t2, kHour0 + 3600, kHour0 + 4 * 3600, 2));
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->records_written, 2);
  EXPECT_EQ(Cursor("poe_exchange:pc"), std::to_string(kHour0 + 4 * 3600));
  EXPECT_EQ(db_->Query("SELECT string_agg((hour - " + std::to_string(kHour0) +
                       ") / 3600 || '', ',' ORDER BY hour) FROM poe_exchange_gaps "
                       "WHERE realm = 'pc'"),
            "0,2,3");
  EXPECT_EQ(db_->Count("SELECT count(*) FROM poe_exchange_raw WHERE hour = " +
                       std::to_string(kHour0 + 3600)),
            2);
  EXPECT_EQ(db_->Query("SELECT volume_traded->>'divine' FROM poe_exchange_raw "
                       "WHERE market_id = 'chaos|divine'"),
            "10");
}

TEST_F(StreamApplyTest, ExchangeHourNotYetPublishedKeepsCursorUntilTheHourEnds) {
  const int64_t current_hour = 1'800'000'000 / 3600 * 3600;
  stream_options_.exchange_start_hour = current_hour;
  Enqueue(kExchangeStreamKind);
  LeasedTask t = LeaseOne(kExchangeStreamKind);
  ASSERT_TRUE(queue_->Complete(ExchangeCompletion(t, current_hour, current_hour, 0)).ok());
  EXPECT_EQ(Cursor("poe_exchange:pc"), std::to_string(current_hour));
  EXPECT_EQ(db_->Count("SELECT count(*) FROM poe_exchange_gaps"), 0);
  const int64_t to_hour_end = current_hour + 3600 - 1'800'000'000;
  clock_.Advance(seconds(std::max<int64_t>(60, to_hour_end) - 1));
  EXPECT_TRUE(LeaseOrDie({kExchangeStreamKind}, 1).empty());
  clock_.Advance(seconds(1));
  EXPECT_EQ(LeaseOrDie({kExchangeStreamKind}, 1).size(), 1u);
}

TEST_F(StreamApplyTest, ExchangeRewindIsRefused) {
  Enqueue(kExchangeStreamKind);
  LeasedTask t = LeaseOne(kExchangeStreamKind);
  EXPECT_TRUE(absl::IsFailedPrecondition(
      queue_->Complete(ExchangeCompletion(t, kHour0, kHour0 - 3600, 1)).status()));
  EXPECT_EQ(Cursor("poe_exchange:pc"), std::to_string(kHour0));
  EXPECT_EQ(db_->Count("SELECT count(*) FROM poe_exchange_raw"), 0);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM checkpoint_transitions WHERE NOT accepted"), 1);
}

TEST_F(StreamApplyTest, TwoModulesInOneProcessKeepTheirOwnTiming) {
  // This coordinator's module: start at kStart, poll the head every 2 s.
  Enqueue(kStashStreamKind);
  LeasedTask pc = LeaseOne(kStashStreamKind);
  ASSERT_EQ(pc.entity_id, 1);
  EXPECT_EQ(CursorOf(pc), kStart);

  // A second coordinator in the same process (and database), whose module
  // starts new streams at kSecond and polls the head every 7 s.
  StreamOptions other = stream_options_;
  other.stash_start_id = kSecond;
  other.stash_poll = seconds(7);
  TaskKindRegistry kinds;
  TaskExtensionRegistry extensions;
  ASSERT_TRUE(StreamModule(other).RegisterKinds(kinds, extensions).ok());
  PgQueueStore store(pool_.get(), &kinds, &extensions);
  TaskQueue queue(&store, &kinds, &clock_, options_);
  ASSERT_TRUE(queue.Enqueue(kStashStreamKind, {2}, Priority::kManual).ok());  // xbox
  auto leased = queue.Lease("agent-b", {kStashStreamKind}, 1, seconds(30), Duration::zero());
  ASSERT_TRUE(leased.ok()) << leased.status();
  ASSERT_EQ(leased->size(), 1u);
  const LeasedTask xbox = (*leased)[0];
  ASSERT_EQ(xbox.entity_id, 2);
  EXPECT_EQ(CursorOf(xbox), kSecond);
  // The first module's timing did not change by the second one's creation.
  EXPECT_EQ(Cursor("poe_stash:pc"), kStart);

  // Both at the head: each stream is polled again after its own module's delay.
  ASSERT_TRUE(queue_->Complete(StashCompletion(pc, kStart, kStart, {})).ok());
  ASSERT_TRUE(queue.Complete(StashCompletion(xbox, kSecond, kSecond, {}, "agent-b")).ok());
  clock_.Advance(seconds(2));
  std::vector<LeasedTask> ready = LeaseOrDie({kStashStreamKind}, 5);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].entity_id, 1);
  clock_.Advance(seconds(4));
  // The second coordinator's rows are this store's to lease from here (one
  // coordinator leads at a time; a new leader loads the queue's indexes), so
  // it reloads them as after any write it did not make.
  store_->ReloadBeforeNextClaim();
  EXPECT_TRUE(LeaseOrDie({kStashStreamKind}, 5).empty());
  clock_.Advance(seconds(1));
  ready = LeaseOrDie({kStashStreamKind}, 5);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].entity_id, 2);
}

}  // namespace
}  // namespace sluice::testing
