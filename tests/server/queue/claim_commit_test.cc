// A claim's transaction commits without waiting for the fsync
// (PgQueueStore::set_synchronous_claims); everything else keeps the
// server's setting, so a completion is on disk when its agent hears of it.
#include <google/protobuf/wrappers.pb.h>

#include <mutex>

#include "server/queue/task_kinds.h"
#include "server/store/task_extension.h"
#include "tests/server/queue/queue_fixture.h"

namespace sluice::testing {
namespace {

constexpr char kKind[] = "commit_probe";

// Records synchronous_commit as each transaction it is called in sees it.
class CommitProbe : public TaskExtension {
 public:
  std::string kind() const override { return kKind; }

  absl::Status FillContext(pqxx::dbtransaction& txn, std::vector<LeasedTask*>&,
                           TimePoint) override {
    Record(&at_claim_, txn);
    return absl::OkStatus();
  }

  absl::StatusOr<PayloadOutcome> Apply(pqxx::dbtransaction& txn, const ExtensionTask&,
                                       const Completion&, TimePoint) override {
    Record(&at_completion_, txn);
    return PayloadOutcome{};
  }

  std::string at_claim() {
    std::lock_guard<std::mutex> l(mu_);
    return at_claim_;
  }
  std::string at_completion() {
    std::lock_guard<std::mutex> l(mu_);
    return at_completion_;
  }

 private:
  void Record(std::string* where, pqxx::dbtransaction& txn) {
    const std::string v = txn.exec("SHOW synchronous_commit")[0][0].c_str();
    std::lock_guard<std::mutex> l(mu_);
    *where = v;
  }

  std::mutex mu_;
  std::string at_claim_;
  std::string at_completion_;
};

class ClaimCommitTest : public QueueFixture {
 protected:
  void SetUp() override {
    probe_ = RegisterKindWithExtension(std::make_unique<CommitProbe>());
    QueueFixture::SetUp();
  }

  // Leases one task and completes it; the probe saw both transactions.
  void LeaseAndComplete() {
    ASSERT_TRUE(queue_->Enqueue(kKind, {next_id_++}, Priority::kManual).ok());
    auto t = LeaseOrDie({kKind}, 1);
    ASSERT_EQ(t.size(), 1u);
    Completion c;
    c.task_id = t[0].task_id;
    c.fencing_token = t[0].fencing_token;
    c.agent_id = "agent-a";
    c.payload = PackPayload(google::protobuf::Int64Value());
    auto out = queue_->Complete(c);
    ASSERT_TRUE(out.ok()) << out.status();
  }

  CommitProbe* probe_ = nullptr;
  int64_t next_id_ = 1;
};

TEST_F(ClaimCommitTest, AClaimDoesNotWaitForItsFsyncButACompletionDoes) {
  LeaseAndComplete();
  EXPECT_EQ(probe_->at_claim(), "off");
  EXPECT_EQ(probe_->at_completion(), "on");
  EXPECT_EQ(db_->Count("SELECT count(*) FROM discovery_queue"), 0);  // completed
}

TEST_F(ClaimCommitTest, SynchronousClaimsWaitForTheFsync) {
  store_->set_synchronous_claims(true);
  LeaseAndComplete();
  EXPECT_EQ(probe_->at_claim(), "on");
  EXPECT_EQ(probe_->at_completion(), "on");
}

TEST_F(ClaimCommitTest, TheSettingDoesNotLeakIntoThePoolsNextTransactions) {
  LeaseAndComplete();
  // Every pooled connection, as the next statement of any kind finds it.
  for (int i = 0; i < 8; ++i) {
    std::string v;
    ASSERT_TRUE(pool_
                    ->Run([&](pqxx::connection& c) {
                      pqxx::work w(c);
                      v = w.exec("SHOW synchronous_commit")[0][0].c_str();
                      w.commit();
                      return absl::OkStatus();
                    })
                    .ok());
    EXPECT_EQ(v, "on");
  }
}

}  // namespace
}  // namespace sluice::testing
