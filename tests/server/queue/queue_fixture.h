// A migrated throwaway database with a PgQueueStore and a TaskQueue on a
// FakeClock, the core ESI kinds registered (the entity kinds most queue tests
// use), plus helpers to insert queue rows directly for ordering tests.
#ifndef SLUICE_TESTS_SERVER_QUEUE_QUEUE_FIXTURE_H_
#define SLUICE_TESTS_SERVER_QUEUE_QUEUE_FIXTURE_H_

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "common/time_util.h"
#include "server/queue/task_queue.h"
#include "server/store/payload_codec.h"
#include "server/store/pg_pool.h"
#include "server/store/pg_queue_store.h"
#include "server/workflows/esi/esi_kinds.h"
#include "sluice/v1/entities.pb.h"
#include "tests/support/migrated_pool.h"
#include "tests/support/test_database.h"

namespace sluice::testing {

// An entity kind's completion payload.
inline Payload Records(const std::vector<v1::EntityRecord>& records) {
  v1::EntityRecords m;
  for (const auto& r : records) *m.add_records() = r;
  return PackPayload(m);
}

// A corporation's record as an agent reports it.
inline v1::EntityRecord Corporation(int64_t id) {
  v1::EntityRecord r;
  auto* corp = r.mutable_corporation();
  corp->set_corporation_id(id);
  corp->set_name("Corp");
  corp->set_ticker("CRP");
  corp->set_member_count(42);
  corp->set_ceo_id(2112000001);
  corp->set_alliance_id(99000001);
  corp->set_tax_rate(0.1);
  return r;
}

// A character task's completion by `agent`, with the character's record.
inline Completion DoneWith(const LeasedTask& t, const std::string& agent) {
  Completion c;
  c.task_id = t.task_id;
  c.fencing_token = t.fencing_token;
  c.agent_id = agent;
  v1::EntityRecord r;
  r.mutable_character()->set_character_id(t.entity_id);
  r.mutable_character()->set_name("Pilot " + std::to_string(t.entity_id));
  c.payload = Records({r});
  return c;
}

class QueueFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(esi::RegisterEsiKinds(kinds_, extensions_).ok());
    db_ = std::make_unique<TestDatabase>();
    auto pool = MigratedPool(db_->dsn(), 8);
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = std::move(*pool);
    store_ = std::make_unique<PgQueueStore>(pool_.get(), &kinds_, &extensions_);
    ResetQueue();
  }

  // A task kind of its own served by `extension`, for tests of the
  // extension seam; before QueueFixture::SetUp.
  template <typename Extension>
  Extension* RegisterKindWithExtension(std::unique_ptr<Extension> extension) {
    TaskKind kind;
    kind.name = extension->kind();
    EXPECT_TRUE(kinds_.Register(kind).ok());
    Extension* raw = extension.get();
    EXPECT_TRUE(extensions_.Register(std::move(extension)).ok());
    return raw;
  }

  // Rebuilds the queue after a test changed options_.
  void ResetQueue() {
    queue_ = std::make_unique<TaskQueue>(store_.get(), &kinds_, &clock_, options_);
  }

  // Writes the queue's tables directly, as an operator would, and tells the
  // store (which keeps the ready tasks in memory) to reload them.
  void Exec(const std::string& sql) {
    pqxx::connection c(db_->dsn());
    pqxx::nontransaction nt(c);
    nt.exec(sql);
    store_->ReloadBeforeNextClaim();
  }

  // The state in which joins to the queue were planned over whole-table
  // scans: an ANALYZE taken while the queue had drained to 3 rows
  // (autovacuum between two bursts), then 20,000 rows queued (characters
  // 100001-120000, as `leased` says: leased, each with its task id as its
  // token, or ready). The statistics still say 3 rows.
  void QueueRefilledAfterAnAnalyzeOfItsLastRows(bool leased) {
    auto fill = [&](int first, int last) {
      return std::string(
                 "INSERT INTO discovery_queue (kind, entity_id, priority, weight, "
                 "last_modified, enqueued_at, state, lease_token) SELECT 'character', "
                 "g, 3, 1, now(), now(), ") +
             (leased ? "1, g" : "0, NULL") + " FROM generate_series(" + std::to_string(first) +
             ", " + std::to_string(last) + ") g";
    };
    Exec(fill(1, 20000));
    Exec("DELETE FROM discovery_queue WHERE entity_id > 3");
    Exec("ANALYZE discovery_queue");
    Exec(fill(100001, 120000));
    ASSERT_LE(PlannerQueueRows(), 3);
  }

  // The queue's row count in its statistics (pg_class.reltuples).
  int64_t PlannerQueueRows() {
    return db_->Count("SELECT reltuples::bigint FROM pg_class WHERE relname = 'discovery_queue'");
  }

  // The plan PostgreSQL makes for `sql` given the argument expressions
  // `args` (comma-separated SQL), as the store's exec_params has it
  // planned: a custom plan, the values known.
  std::string PlanOf(const std::string& sql, const std::string& args) {
    pqxx::connection c(db_->dsn());
    pqxx::nontransaction nt(c);
    nt.exec("PREPARE plan_probe AS " + sql);
    // EXECUTE takes no subqueries: the arguments are evaluated first.
    std::string values;
    for (const auto& field : nt.exec1("SELECT " + args)) {
      values += (values.empty() ? "" : ", ") + nt.quote(field.c_str());
    }
    std::string plan;
    for (const auto& row : nt.exec("EXPLAIN EXECUTE plan_probe(" + values + ")")) {
      plan += std::string(row[0].c_str()) + "\n";
    }
    return plan;
  }

  std::vector<LeasedTask> LeaseOrDie(const std::vector<std::string>& kinds, int n,
                                     const std::string& agent = "agent-a",
                                     Duration lease = std::chrono::seconds(30)) {
    auto r = queue_->Lease(agent, kinds, n, lease, Duration::zero());
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : std::vector<LeasedTask>{};
  }

  TaskKindRegistry kinds_;
  TaskExtensionRegistry extensions_;
  FakeClock clock_{FromUnixSeconds(1'800'000'000)};
  TaskQueueOptions options_;
  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<PgPool> pool_;
  std::unique_ptr<PgQueueStore> store_;
  std::unique_ptr<TaskQueue> queue_;
};

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_SERVER_QUEUE_QUEUE_FIXTURE_H_
