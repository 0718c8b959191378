// Killmail sync end to end (coordinator + agent + simulator over loopback,
// real PostgreSQL), and the coordinator's side of both kinds driven by hand:
// incremental stop, full-read fallback, the checkpoint committed with the
// killmails or not at all, bodies fetched once, participants discovered.
#include "sluice/v1/killmails.pb.h"
#include "tests/server/workflows/killmails/killmail_test_util.h"

#include "server/queue/task_kinds.h"
#include "server/store/payload_codec.h"

namespace sluice::testing {
namespace {

using KillmailSyncTest = KillmailFixture;

std::string S(int64_t v) { return std::to_string(v); }

TEST_F(KillmailSyncTest, IncrementalSyncStopsAtStoredKillmailId) {
  StartAgent();
  const int64_t ch = characters_[4];
  if (SimTotal(ch) <= 60) SimAdd(ch, 70);  // several pages
  const int64_t total = SimTotal(ch);
  const int64_t full_pages = (total + 49) / 50;
  ASSERT_GE(full_pages, 2);
  GiveToken(ch);

  // First sync: no stored id, every page.
  EnqueueSync({ch});
  Drain();
  EXPECT_EQ(RouteCount(kRecentRoute), full_pages);
  EXPECT_EQ(db_.Count("SELECT count(*) FROM character_killmails WHERE character_id = " + S(ch)),
            total);
  EXPECT_EQ(
      db_.Count("SELECT last_killmail_id FROM character_tokens WHERE character_id = " + S(ch)),
      SimNewest(ch));
  EXPECT_EQ(db_.Query("SELECT last_killmail_sync_at IS NOT NULL FROM character_tokens WHERE "
                      "character_id = " +
                      S(ch)),
            "t");
  EXPECT_EQ(db_.Count("SELECT count(*) FROM killmails WHERE body IS NULL"), 0);
  EXPECT_EQ(RouteCount(kBodyRoute), db_.Count("SELECT count(*) FROM killmails"));

  // Seven new killmails: one page, seven bodies.
  SimAdd(ch, 7);
  const int64_t pages_before = RouteCount(kRecentRoute);
  const int64_t bodies_before = RouteCount(kBodyRoute);
  EnqueueSync({ch});
  Drain();
  EXPECT_EQ(RouteCount(kRecentRoute) - pages_before, 1);
  EXPECT_EQ(RouteCount(kBodyRoute) - bodies_before, 7);
  EXPECT_EQ(db_.Count("SELECT count(*) FROM character_killmails WHERE character_id = " + S(ch)),
            total + 7);
  EXPECT_EQ(
      db_.Count("SELECT last_killmail_id FROM character_tokens WHERE character_id = " + S(ch)),
      SimNewest(ch));
  EXPECT_EQ(db_.Count("SELECT count(*) FROM dead_tasks"), 0);
}

// ESI's cache etiquette for a paged, authenticated list: the list is cached
// for a while (ESI: 300 s) and must not be asked for again before the
// Expires it came with, whatever the priority of the next sync.
class KillmailEtiquetteTest : public KillmailFixture {
 protected:
  void AdjustSimConfig(sim::SimConfig& sc) override { sc.cache_killmail_recent_seconds = 12; }
};

TEST_F(KillmailEtiquetteTest, TheNextSyncWaitsForTheListsExpiresAndThenSeesTheNewKillmails) {
  StartAgent();
  const int64_t ch = characters_[4];
  if (SimTotal(ch) <= 60) SimAdd(ch, 70);  // several pages
  const int64_t total = SimTotal(ch);
  GiveToken(ch);
  EnqueueSync({ch});
  Drain();
  const int64_t pages = RouteCount(kRecentRoute);
  ASSERT_GE(pages, 2);
  // The Expires every page carried is the character's, stored with its sync.
  const double expires = std::stod(
      db_.Query("SELECT extract(epoch FROM expires_at) FROM entity_cache WHERE kind = "
                "'character_killmails' AND entity_id = " +
                S(ch)));
  const double now = ToUnixSeconds(SystemClock::Get()->Now());
  ASSERT_GT(expires, now) << "the first sync took longer than the list's cache";
  EXPECT_LE(expires, now + 12);

  // New killmails; a manual sync asked for at once waits for the Expires.
  SimAdd(ch, 3);
  auto queued = coordinator_->queue()->Enqueue("character_killmails", {ch}, Priority::kManual);
  ASSERT_TRUE(queued.ok()) << queued.status();
  EXPECT_EQ(queued->waiting_for_expires, 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_EQ(RouteCount(kRecentRoute), pages) << "the list was asked for before its Expires";

  Drain(std::chrono::seconds(60));
  EXPECT_GE(ToUnixSeconds(SystemClock::Get()->Now()), expires);
  // One page: the three new killmails, then the stored newest id.
  EXPECT_EQ(RouteCount(kRecentRoute), pages + 1);
  EXPECT_EQ(db_.Count("SELECT count(*) FROM character_killmails WHERE character_id = " + S(ch)),
            total + 3);
  const nlohmann::json etiquette = sim_->Stats()["etiquette"];
  EXPECT_EQ(etiquette["requests_before_expires"].get<int64_t>(), 0) << etiquette.dump();
  EXPECT_EQ(db_.Count("SELECT count(*) FROM dead_tasks"), 0);
}

TEST_F(KillmailSyncTest, FallsBackToFullReadWhenStoredIdIsMissing) {
  StartAgent();
  const int64_t ch = characters_[6];
  if (SimTotal(ch) <= 60) SimAdd(ch, 70);
  const int64_t full_pages = (SimTotal(ch) + 49) / 50;
  GiveToken(ch);
  // A stored id the list does not have (higher than anything in it).
  db_.Query("UPDATE character_tokens SET last_killmail_id = 999999999999 WHERE character_id = " +
            S(ch));
  EnqueueSync({ch});
  Drain();
  EXPECT_EQ(RouteCount(kRecentRoute), full_pages);
  EXPECT_EQ(db_.Count("SELECT count(*) FROM character_killmails WHERE character_id = " + S(ch)),
            SimTotal(ch));
  // The full read replaced the id the list no longer has, so the next sync
  // is incremental again.
  EXPECT_EQ(
      db_.Count("SELECT last_killmail_id FROM character_tokens WHERE character_id = " + S(ch)),
      SimNewest(ch));
  const int64_t pages_before = RouteCount(kRecentRoute);
  EnqueueSync({ch});
  Drain();
  EXPECT_EQ(RouteCount(kRecentRoute) - pages_before, 1);
}

TEST_F(KillmailSyncTest, BodyFetchedOnceWhenTwoCharactersShareAKillmail) {
  StartAgent();
  // The simulator pairs characters (index ^ 1): every fourth killmail of one
  // is in the other's list too.
  const int64_t a = characters_[10];
  const int64_t b = characters_[11];
  SimAdd(a, 12);
  SimAdd(b, 12);
  GiveToken(a);
  GiveToken(b);
  EnqueueSync({a, b});
  Drain();
  EXPECT_GT(db_.Count("SELECT count(*) FROM (SELECT killmail_id FROM character_killmails "
                      "GROUP BY killmail_id HAVING count(*) = 2) shared"),
            0);
  EXPECT_EQ(db_.Count("SELECT count(*) FROM killmails WHERE body IS NULL"), 0);
  EXPECT_EQ(RouteCount(kBodyRoute), db_.Count("SELECT count(*) FROM killmails"));
  EXPECT_EQ(db_.Count("SELECT count(*) FROM character_killmails"), SimTotal(a) + SimTotal(b));
}

TEST_F(KillmailSyncTest, CharacterWithoutTokenIsDeadLetteredWithTheReason) {
  StartAgent();
  const int64_t ch = characters_[3];
  EnqueueSync({ch});
  Drain();
  EXPECT_EQ(RouteCount(kRecentRoute), 0) << "an unauthenticated call was sent upstream";
  EXPECT_EQ(db_.Query("SELECT error FROM dead_tasks WHERE kind = 'character_killmails' AND "
                      "entity_id = " +
                      S(ch)),
            "character_killmails " + S(ch) + ": HTTP 401: no access token stored for character " +
                S(ch) + " (register one with `sluicectl tokens add`)");
}

// Leases a task of `kind` (at most one queued) by hand.
LeasedTask LeaseOne(Coordinator* c, const std::string& kind) {
  auto leased = c->queue()->Lease("hand", {kind}, 1, std::chrono::seconds(30), Duration::zero());
  EXPECT_TRUE(leased.ok()) << leased.status();
  EXPECT_EQ(leased->size(), 1u);
  return leased->empty() ? LeasedTask{} : leased->front();
}

Completion CompletionFor(const LeasedTask& t, const google::protobuf::Message& payload) {
  Completion c;
  c.task_id = t.task_id;
  c.fencing_token = t.fencing_token;
  c.agent_id = "hand";
  c.payload = PackPayload(payload);
  return c;
}

TEST_F(KillmailSyncTest, CheckpointIsSavedWithTheKillmailsOrNotAtAll) {
  const int64_t ch = characters_[2];
  GiveToken(ch);
  EnqueueSync({ch});
  LeasedTask t = LeaseOne(coordinator_.get(), "character_killmails");
  ASSERT_TRUE(t.context.has_value());
  auto unpacked = UnpackPayload<v1::CharacterKillmailsContext>(t.context, "context", t.kind);
  ASSERT_TRUE(unpacked.ok()) << unpacked.status();
  v1::CharacterKillmailsContext ctx = *unpacked;
  EXPECT_FALSE(ctx.access_token().empty());
  EXPECT_EQ(ctx.last_killmail_id(), 0);

  v1::CharacterKillmailsResult result;
  for (int64_t id : {500000003, 500000002, 500000001}) {
    auto* ref = result.add_refs();
    ref->set_killmail_id(id);
    ref->set_killmail_hash("h" + S(id));
  }
  result.set_pages_fetched(1);
  result.set_full_read(true);
  auto nothing_written = [&] {
    EXPECT_EQ(db_.Count("SELECT count(*) FROM killmails"), 0);
    EXPECT_EQ(db_.Count("SELECT count(*) FROM character_killmails"), 0);
    EXPECT_EQ(db_.Query("SELECT coalesce(last_killmail_id, 0)::text || '/' || "
                        "(last_killmail_sync_at IS NULL)::text FROM character_tokens"),
              "0/true");
  };

  // A stale fencing token: rejected, nothing written.
  Completion stale = CompletionFor(t, result);
  stale.fencing_token += 1000;
  auto s1 = coordinator_->queue()->Complete(stale);
  EXPECT_EQ(s1.status().code(), absl::StatusCode::kFailedPrecondition) << s1.status();
  nothing_written();

  // A refused result costs the task an attempt and ends the lease; skip
  // the backoff and lease it again.
  auto lease_again = [&] {
    db_.Query("UPDATE discovery_queue SET state = 0, available_at = NULL, locked_until = NULL");
    coordinator_->queue()->ReloadBeforeNextClaim();
    t = LeaseOne(coordinator_.get(), "character_killmails");
  };

  // A payload of the wrong kind: rejected, nothing written.
  v1::KillmailResult wrong;
  wrong.set_killmail_id(1);
  auto s2 = coordinator_->queue()->Complete(CompletionFor(t, wrong));
  EXPECT_EQ(s2.status().code(), absl::StatusCode::kInvalidArgument) << s2.status();
  EXPECT_NE(s2.status().message().find("CharacterKillmailsResult"), std::string::npos)
      << s2.status();
  nothing_written();
  EXPECT_EQ(db_.Count("SELECT attempts FROM discovery_queue"), 1);
  lease_again();

  // A bad ref: rejected naming the field, nothing written (not even ref 0).
  v1::CharacterKillmailsResult bad = result;
  bad.mutable_refs(1)->set_killmail_hash("");
  auto s3 = coordinator_->queue()->Complete(CompletionFor(t, bad));
  EXPECT_EQ(s3.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s3.status().message().find("payload.refs[1].killmail_hash"), std::string::npos)
      << s3.status();
  nothing_written();
  lease_again();

  // The good completion writes refs, links, checkpoint and queues bodies.
  auto ok = coordinator_->queue()->Complete(CompletionFor(t, result));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(db_.Count("SELECT count(*) FROM killmails WHERE body IS NULL"), 3);
  EXPECT_EQ(db_.Count("SELECT count(*) FROM character_killmails WHERE character_id = " + S(ch)), 3);
  EXPECT_EQ(db_.Count("SELECT last_killmail_id FROM character_tokens"), 500000003);
  EXPECT_EQ(db_.Query("SELECT (last_killmail_sync_at IS NOT NULL)::text FROM character_tokens"),
            "true");
  EXPECT_EQ(
      db_.Count("SELECT count(*) FROM discovery_queue WHERE kind = 'killmail' AND priority = 5"),
      3);
  EXPECT_EQ(ok->tasks_queued, 3);

  // A later incremental sync never moves the checkpoint back.
  EnqueueSync({ch});
  LeasedTask t2 = LeaseOne(coordinator_.get(), "character_killmails");
  unpacked = UnpackPayload<v1::CharacterKillmailsContext>(t2.context, "context", t2.kind);
  ASSERT_TRUE(unpacked.ok()) << unpacked.status();
  ctx = *unpacked;
  EXPECT_EQ(ctx.last_killmail_id(), 500000003);
  v1::CharacterKillmailsResult none;
  none.set_pages_fetched(1);
  ASSERT_TRUE(coordinator_->queue()->Complete(CompletionFor(t2, none)).ok());
  EXPECT_EQ(db_.Count("SELECT last_killmail_id FROM character_tokens"), 500000003);
}

TEST_F(KillmailSyncTest, ParticipantsMissingFromTheDatabaseAreQueuedAtTheTasksPriority) {
  const int64_t ch = characters_[1];
  GiveToken(ch);
  EnqueueSync({ch}, Priority::kUser);
  LeasedTask t = LeaseOne(coordinator_.get(), "character_killmails");
  v1::CharacterKillmailsResult result;
  auto* ref = result.add_refs();
  ref->set_killmail_id(700000001);
  ref->set_killmail_hash("abc");
  result.set_full_read(true);
  ASSERT_TRUE(coordinator_->queue()->Complete(CompletionFor(t, result)).ok());

  // The body task carries the hash and the user priority of its discoverer.
  LeasedTask body = LeaseOne(coordinator_.get(), "killmail");
  EXPECT_EQ(body.entity_id, 700000001);
  EXPECT_EQ(body.priority, 7);
  auto kctx = UnpackPayload<v1::KillmailContext>(body.context, "context", body.kind);
  ASSERT_TRUE(kctx.ok()) << kctx.status();
  EXPECT_EQ(kctx->killmail_hash(), "abc");

  // One participant's character, corporation and alliance are stored
  // already; the others are not.
  db_.Query("INSERT INTO character_static (character_id, name) VALUES (91000001, 'Known')");
  db_.Query(
      "INSERT INTO corporation_static (corporation_id, name, ticker) VALUES (98000001, 'K', 'K')");
  db_.Query("INSERT INTO alliance_static (alliance_id, name, ticker) VALUES (99000001, 'K', 'K')");
  v1::KillmailResult km;
  km.set_killmail_id(700000001);
  *km.mutable_killmail_time() = ToProto(std::chrono::system_clock::now());
  km.set_solar_system_id(30000142);
  km.set_body_json(R"({"killmail_id":700000001})");
  auto add = [&](int64_t c, int64_t corp, int64_t al, int64_t ship, bool victim) {
    auto* p = km.add_participants();
    p->set_character_id(c);
    p->set_corporation_id(corp);
    p->set_alliance_id(al);
    p->set_ship_type_id(ship);
    p->set_is_victim(victim);
  };
  add(91000001, 98000001, 99000001, 587, true);
  add(91000002, 98000002, 0, 24690, false);
  add(91000003, 98000002, 99000002, 587, false);
  ASSERT_TRUE(coordinator_->queue()->Complete(CompletionFor(body, km)).ok());

  auto queued = [&](const std::string& kind) {
    return db_.Query(
        "SELECT coalesce(string_agg(entity_id::text || ':' || priority::text, ',' "
        "ORDER BY entity_id), '') FROM discovery_queue WHERE kind = '" +
        kind + "'");
  };
  EXPECT_EQ(queued("character"), "91000002:7,91000003:7");
  EXPECT_EQ(queued("corporation"), "98000002:7");
  EXPECT_EQ(queued("alliance"), "99000002:7");
  if (coordinator_->queue()->kinds().Find("universe_type") != nullptr) {
    EXPECT_EQ(queued("universe_type"), "587:7,24690:7");
  }
  EXPECT_EQ(db_.Count("SELECT count(*) FROM killmail_participants WHERE killmail_id = 700000001"),
            3);
  EXPECT_EQ(db_.Count("SELECT victim_ship_type_id FROM killmails WHERE killmail_id = 700000001"),
            587);
  EXPECT_EQ(db_.Query("SELECT body->>'killmail_id' FROM killmails WHERE killmail_id = 700000001"),
            "700000001");
}

TEST_F(KillmailSyncTest, KillmailPayloadForAnotherIdIsRejected) {
  const int64_t ch = characters_[1];
  GiveToken(ch);
  EnqueueSync({ch});
  LeasedTask t = LeaseOne(coordinator_.get(), "character_killmails");
  v1::CharacterKillmailsResult result;
  auto* ref = result.add_refs();
  ref->set_killmail_id(700000005);
  ref->set_killmail_hash("abc");
  ASSERT_TRUE(coordinator_->queue()->Complete(CompletionFor(t, result)).ok());
  LeasedTask body = LeaseOne(coordinator_.get(), "killmail");
  v1::KillmailResult km;
  km.set_killmail_id(700000006);
  *km.mutable_killmail_time() = ToProto(std::chrono::system_clock::now());
  km.set_body_json("{}");
  km.add_participants()->set_is_victim(true);
  auto s = coordinator_->queue()->Complete(CompletionFor(body, km));
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("payload.killmail_id"), std::string::npos) << s.status();
  EXPECT_EQ(db_.Count("SELECT count(*) FROM killmails WHERE body IS NOT NULL"), 0);
}

}  // namespace
}  // namespace sluice::testing
