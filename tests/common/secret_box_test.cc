// SecretBox: what it seals is not the plaintext, opens only under its own key
// and label, rotation through a previous key, and keys read in the formats
// the README gives.
#include "common/secret_box.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice {
namespace {

const char kHexKey[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const char kOtherHexKey[] = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

SecretBox Box(const char* current, const char* previous = "") {
  auto box = SecretBox::FromKeyTexts(current, previous);
  EXPECT_TRUE(box.ok()) << box.status();
  return std::move(*box);
}

TEST(SecretBoxTest, ASealedSecretIsNotThePlaintextAndOpensUnderItsLabel) {
  const SecretBox box = Box(kHexKey);
  const std::string secret = "eyJhbGciOiJSUzI1NiJ9.character-token.sig";
  SecretBox::Sealed a = box.Seal("character:1", secret);
  SecretBox::Sealed b = box.Seal("character:1", secret);
  EXPECT_EQ(a.key_id, box.current_key_id());
  EXPECT_EQ(a.key_id.size(), 16u);
  EXPECT_EQ(a.box.find(secret), std::string::npos);
  EXPECT_EQ(a.box.find("character-token"), std::string::npos);
  EXPECT_NE(a.box, b.box) << "a fresh nonce per seal";
  auto opened = box.Open(a.key_id, a.box, "character:1");
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, secret);
}

TEST(SecretBoxTest, AValueMovedToAnotherLabelOrTamperedWithDoesNotOpen) {
  const SecretBox box = Box(kHexKey);
  SecretBox::Sealed s = box.Seal("character:1", "token");
  EXPECT_EQ(box.Open(s.key_id, s.box, "character:2").status().code(), absl::StatusCode::kDataLoss);
  std::string tampered = s.box;
  tampered.back() ^= 1;
  EXPECT_EQ(box.Open(s.key_id, tampered, "character:1").status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(box.Open(s.key_id, "short", "character:1").status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(SecretBoxTest, RotationOpensThePreviousKeysValuesAndSealsUnderTheNewOne) {
  const SecretBox old_box = Box(kHexKey);
  SecretBox::Sealed old_sealed = old_box.Seal("character:7", "token-7");
  const SecretBox rotated = Box(kOtherHexKey, kHexKey);
  EXPECT_NE(rotated.current_key_id(), old_box.current_key_id());
  EXPECT_TRUE(rotated.Knows(old_box.current_key_id()));
  auto opened = rotated.Open(old_sealed.key_id, old_sealed.box, "character:7");
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, "token-7");
  EXPECT_EQ(rotated.Seal("character:7", "token-7").key_id, rotated.current_key_id());

  const SecretBox new_only = Box(kOtherHexKey);
  auto refused = new_only.Open(old_sealed.key_id, old_sealed.box, "character:7");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find(old_sealed.key_id), std::string::npos);
}

TEST(SecretBoxTest, KeysAreHexOrBase64OfExactly32Bytes) {
  auto hex = SecretBox::ParseKey(std::string(kHexKey) + "\n");
  ASSERT_TRUE(hex.ok()) << hex.status();
  EXPECT_EQ((*hex)[31], 0x1f);
  auto b64 = SecretBox::ParseKey("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
  ASSERT_TRUE(b64.ok()) << b64.status();
  EXPECT_EQ(*b64, *hex);
  EXPECT_EQ(SecretBox::KeyId(*hex), Box(kHexKey).current_key_id());
  for (const char* bad :
       {"", "00", "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg=="}) {
    auto key = SecretBox::ParseKey(bad);
    EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    if (!key.ok() && std::string(bad).size() > 8) {
      EXPECT_EQ(key.status().message().find(std::string(bad).substr(0, 8)), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace sluice
