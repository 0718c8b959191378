// ESI tokens at rest: what character_tokens holds is never the token (read
// from the table directly), a rotation seals every row under the new key at
// start-up and through RekeyCharacterTokens, a coordinator without a key
// neither stores nor hands out tokens, and a lease context carries only its
// own character's token. A real coordinator over loopback gRPC, a real
// PostgreSQL.
#include <grpcpp/grpcpp.h>

#include <map>

#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"
#include "server/workflows/killmails/killmail_kinds.h"
#include "server/workflows/killmails/token_store.h"
#include "sluice/v1/agent.grpc.pb.h"
#include "sluice/v1/killmails.pb.h"
#include "tests/server/workflows/killmails/killmail_test_util.h"

namespace sluice::testing {
namespace {

class SealedTokensTest : public KillmailFixture {
 protected:
  CoordinatorOptions CoordinatorOptionsForTest() override {
    CoordinatorOptions co = KillmailFixture::CoordinatorOptionsForTest();
    co.workflows.killmails.token_box = box_;
    return co;
  }

  // A new coordinator on the same database, with `box` (null: no key).
  void Restart(std::shared_ptr<const SecretBox> box) {
    coordinator_->Shutdown(std::chrono::milliseconds(200));
    box_ = std::move(box);
    coordinator_ = std::make_unique<Coordinator>(CoordinatorOptionsForTest());
    ASSERT_TRUE(coordinator_->Start().ok());
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(coordinator_->port()),
                                   grpc::InsecureChannelCredentials());
    tokens_ = v1::KillmailAdminService::NewStub(channel_);
  }

  TimePoint InAnHour() { return std::chrono::system_clock::now() + std::chrono::hours(1); }

  // character id -> (key id, sealed bytes), read from the table.
  std::map<int64_t, std::pair<std::string, std::string>> Rows() {
    std::map<int64_t, std::pair<std::string, std::string>> out;
    const std::string text = db_.Query(
        "SELECT string_agg(character_id || ' ' || COALESCE(token_key_id, '-') || ' ' || "
        "COALESCE(encode(token_sealed, 'hex'), '-'), ',' ORDER BY character_id) "
        "FROM character_tokens");
    for (absl::string_view row : absl::StrSplit(text, ',', absl::SkipEmpty())) {
      std::vector<std::string> f = absl::StrSplit(row, ' ');
      out[std::stoll(f[0])] = {f[1], f[2] == "-" ? "" : absl::HexStringToBytes(f[2])};
    }
    return out;
  }

  // Leases every ready character_killmails task over AgentService.
  std::vector<v1::Task> Lease() {
    auto agent = v1::AgentService::NewStub(channel_);
    v1::LeaseTasksRequest req;
    req.set_agent_id("sealed-test");
    req.add_kinds(kCharacterKillmailsKind);
    req.set_max_tasks(50);
    req.mutable_lease_duration()->set_seconds(30);
    v1::LeaseTasksResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = agent->LeaseTasks(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {resp.tasks().begin(), resp.tasks().end()};
  }

  static v1::CharacterKillmailsContext ContextOf(const v1::Task& t) {
    v1::CharacterKillmailsContext ctx;
    EXPECT_TRUE(t.context().UnpackTo(&ctx));
    return ctx;
  }

  std::shared_ptr<const SecretBox> box_ = TestTokenBox(0x11);
};

TEST_F(SealedTokensTest, TheTableHoldsNoPlaintextToken) {
  const std::map<int64_t, std::string> tokens = {
      {91000001, "eyJhbGciOiJSUzI1NiJ9.plaintext-one.sig"},
      {91000002, "eyJhbGciOiJSUzI1NiJ9.plaintext-two.sig"}};
  for (const auto& [id, token] : tokens) ASSERT_TRUE(Register(id, token, InAnHour()).ok());
  EXPECT_EQ(db_.Count("SELECT count(*) FROM character_tokens WHERE access_token IS NOT NULL"), 0);
  const std::string whole_table =
      db_.Query("SELECT string_agg(t::text, '|') FROM character_tokens t");
  for (const auto& [id, token] : tokens) {
    EXPECT_EQ(whole_table.find("plaintext"), std::string::npos) << whole_table;
    EXPECT_EQ(whole_table.find(absl::BytesToHexString(token).substr(0, 40)), std::string::npos);
    const auto rows = Rows();
    ASSERT_EQ(rows.count(id), 1u);
    EXPECT_EQ(rows.at(id).first, box_->current_key_id());
    EXPECT_EQ(rows.at(id).second.find(token), std::string::npos);
  }
}

TEST_F(SealedTokensTest, RotationSealsEveryRowUnderTheNewKeyAtStartUp) {
  const std::shared_ptr<const SecretBox> old_box = box_;
  for (int64_t id = 91000001; id <= 91000005; ++id) {
    ASSERT_TRUE(Register(id, "token-" + std::to_string(id), InAnHour()).ok());
  }
  for (const auto& [id, row] : Rows()) EXPECT_EQ(row.first, old_box->current_key_id()) << id;

  SecretBox::Key next;
  next.fill(0x22);
  SecretBox::Key old_key;
  old_key.fill(0x11);
  auto rotated = std::make_shared<const SecretBox>(next, old_key);
  Restart(rotated);
  const auto rows = Rows();
  ASSERT_EQ(rows.size(), 5u);
  for (const auto& [id, row] : rows) {
    EXPECT_EQ(row.first, rotated->current_key_id()) << id;
    auto opened = SecretBox(next, std::nullopt).Open(row.first, row.second, TokenLabel(id));
    ASSERT_TRUE(opened.ok()) << id << ": " << opened.status();
    EXPECT_EQ(*opened, "token-" + std::to_string(id));
  }

  // The old key is no longer needed: a coordinator with only the new one
  // hands the tokens out.
  Restart(std::make_shared<const SecretBox>(next, std::nullopt));
  EnqueueSync({91000003});
  std::vector<v1::Task> leased = Lease();
  ASSERT_EQ(leased.size(), 1u);
  EXPECT_EQ(ContextOf(leased[0]).access_token(), "token-91000003");
}

TEST_F(SealedTokensTest, RekeyRpcSealsRowsLeftInPlainTextAndUnderThePreviousKey) {
  ASSERT_TRUE(Register(91000001, "sealed-token", InAnHour()).ok());
  // A row from before 0016, written in plain text.
  db_.Query(
      "INSERT INTO character_tokens (character_id, access_token, expires_at) "
      "VALUES (91000002, 'legacy-token', now() + interval '1 hour') RETURNING 1");
  SecretBox::Key next;
  next.fill(0x33);
  SecretBox::Key old_key;
  old_key.fill(0x11);
  // Start-up re-keys too; undo its work on one row to see the RPC do it.
  Restart(std::make_shared<const SecretBox>(next, old_key));
  EXPECT_EQ(db_.Count("SELECT count(*) FROM character_tokens WHERE access_token IS NOT NULL"), 0);
  db_.Query(
      "UPDATE character_tokens SET access_token = 'legacy-again', token_sealed = NULL, "
      "token_key_id = NULL WHERE character_id = 91000002 RETURNING 1");

  v1::RekeyCharacterTokensResponse resp;
  grpc::ClientContext ctx;
  grpc::Status s = tokens_->RekeyCharacterTokens(&ctx, v1::RekeyCharacterTokensRequest(), &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.sealed_plain(), 1);
  EXPECT_EQ(resp.resealed(), 0) << "the sealed row was re-keyed at start-up already";
  EXPECT_EQ(resp.unreadable(), 0);
  EXPECT_EQ(resp.current_key_id(), SecretBox::KeyId(next));
  for (const auto& [id, row] : Rows()) EXPECT_EQ(row.first, SecretBox::KeyId(next)) << id;
  EXPECT_EQ(db_.Count("SELECT count(*) FROM character_tokens WHERE access_token IS NOT NULL"), 0);

  EnqueueSync({91000001, 91000002});
  std::map<int64_t, std::string> got;
  for (const v1::Task& t : Lease()) got[t.entity_id()] = ContextOf(t).access_token();
  EXPECT_EQ(got[91000001], "sealed-token");
  EXPECT_EQ(got[91000002], "legacy-again");
}

TEST_F(SealedTokensTest, EachLeaseContextCarriesOnlyItsOwnCharactersToken) {
  ASSERT_TRUE(Register(91000001, "token-of-one", InAnHour()).ok());
  ASSERT_TRUE(Register(91000002, "token-of-two", InAnHour()).ok());
  EnqueueSync({91000001, 91000002, 91000003});
  std::vector<v1::Task> leased = Lease();
  ASSERT_EQ(leased.size(), 3u);
  for (const v1::Task& t : leased) {
    std::string wire;
    t.SerializeToString(&wire);
    const v1::CharacterKillmailsContext ctx = ContextOf(t);
    if (t.entity_id() == 91000001) {
      EXPECT_EQ(ctx.access_token(), "token-of-one");
      EXPECT_EQ(wire.find("token-of-two"), std::string::npos);
    } else if (t.entity_id() == 91000002) {
      EXPECT_EQ(ctx.access_token(), "token-of-two");
      EXPECT_EQ(wire.find("token-of-one"), std::string::npos);
    } else {
      EXPECT_TRUE(ctx.access_token().empty());
      EXPECT_NE(ctx.token_problem().find("no access token"), std::string::npos);
      EXPECT_EQ(wire.find("token-of"), std::string::npos);
    }
  }
}

TEST_F(SealedTokensTest, WithoutAKeyTokensAreNeitherStoredNorHandedOut) {
  ASSERT_TRUE(Register(91000001, "stored-with-a-key", InAnHour()).ok());
  Restart(nullptr);
  grpc::Status refused = Register(91000002, "no-key-token", InAnHour());
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(refused.error_message().find("--token_key_file"), std::string::npos)
      << refused.error_message();
  EXPECT_EQ(db_.Count("SELECT count(*) FROM character_tokens WHERE character_id = 91000002"), 0);

  v1::RekeyCharacterTokensResponse resp;
  grpc::ClientContext ctx;
  EXPECT_EQ(
      tokens_->RekeyCharacterTokens(&ctx, v1::RekeyCharacterTokensRequest(), &resp).error_code(),
      grpc::StatusCode::FAILED_PRECONDITION);

  EnqueueSync({91000001});
  std::vector<v1::Task> leased = Lease();
  ASSERT_EQ(leased.size(), 1u);
  const v1::CharacterKillmailsContext context = ContextOf(leased[0]);
  EXPECT_TRUE(context.access_token().empty());
  EXPECT_NE(context.token_problem().find("no token key"), std::string::npos)
      << context.token_problem();
}

}  // namespace
}  // namespace sluice::testing
