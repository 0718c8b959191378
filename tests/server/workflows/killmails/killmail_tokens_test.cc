// KillmailAdminService over real gRPC: bad arguments are INVALID_ARGUMENT
// naming the field, unknown characters are NOT_FOUND naming them, and a
// stored token is never sent back.
#include "absl/strings/escaping.h"
#include "server/workflows/killmails/token_store.h"
#include "tests/server/workflows/killmails/killmail_test_util.h"

namespace sluice::testing {
namespace {

using KillmailTokensTest = KillmailFixture;

TimePoint InAnHour() { return std::chrono::system_clock::now() + std::chrono::hours(1); }

void ExpectInvalid(const grpc::Status& s, const std::string& field) {
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_NE(s.error_message().find(field), std::string::npos) << s.error_message();
}

TEST_F(KillmailTokensTest, BadArgumentsAreInvalidArgumentNamingTheField) {
  ExpectInvalid(Register(0, "tok", InAnHour()), "character_id");
  ExpectInvalid(Register(-5, "tok", InAnHour()), "character_id");
  ExpectInvalid(Register(91000001, "", InAnHour()), "access_token");
  ExpectInvalid(Register(91000001, "two words", InAnHour()), "access_token");
  ExpectInvalid(Register(91000001, std::string(5000, 'x'), InAnHour()), "access_token");
  ExpectInvalid(Register(91000001, "tok", InAnHour(), /*with_expiry=*/false), "expires_at");
  ExpectInvalid(
      Register(91000001, "tok", std::chrono::system_clock::now() - std::chrono::minutes(1)),
      "expires_at");
  EXPECT_EQ(db_.Count("SELECT count(*) FROM character_tokens"), 0);
}

TEST_F(KillmailTokensTest, RegisterReplacesAndListNeverEchoesTheToken) {
  ASSERT_TRUE(Register(91000001, "first-secret", InAnHour()).ok());
  ASSERT_TRUE(Register(91000001, "second-secret", InAnHour()).ok());
  ASSERT_TRUE(Register(91000002, "other-secret", InAnHour()).ok());
  // Stored sealed: the replaced row opens to the second token.
  const std::string key_id =
      db_.Query("SELECT token_key_id FROM character_tokens WHERE character_id = 91000001");
  const std::string sealed = absl::HexStringToBytes(db_.Query(
      "SELECT encode(token_sealed, 'hex') FROM character_tokens WHERE character_id = 91000001"));
  auto opened = TestTokenBox()->Open(key_id, sealed, TokenLabel(91000001));
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, "second-secret");

  v1::ListCharacterTokensRequest req;
  v1::ListCharacterTokensResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(tokens_->ListCharacterTokens(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.tokens_size(), 2);
  EXPECT_EQ(resp.tokens(0).character_id(), 91000001);
  EXPECT_FALSE(resp.tokens(0).expired());
  EXPECT_FALSE(resp.tokens(0).has_last_killmail_sync_at());
  std::string wire;
  resp.SerializeToString(&wire);
  EXPECT_EQ(wire.find("secret"), std::string::npos);
}

TEST_F(KillmailTokensTest, ListingAnUnknownCharacterIsNotFoundNamingIt) {
  ASSERT_TRUE(Register(91000001, "tok", InAnHour()).ok());
  v1::ListCharacterTokensRequest req;
  req.add_character_ids(91000001);
  req.add_character_ids(91000077);
  v1::ListCharacterTokensResponse resp;
  grpc::ClientContext ctx;
  grpc::Status s = tokens_->ListCharacterTokens(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(s.error_message().find("91000077"), std::string::npos) << s.error_message();
  EXPECT_EQ(s.error_message().find("91000001"), std::string::npos) << s.error_message();

  v1::ListCharacterTokensRequest bad;
  bad.add_character_ids(-1);
  grpc::ClientContext ctx2;
  ExpectInvalid(tokens_->ListCharacterTokens(&ctx2, bad, &resp), "character_ids[0]");
}

}  // namespace
}  // namespace sluice::testing
