// Outside text on its way to the database or an error message: NUL bytes,
// control characters and invalid UTF-8 are refused or escaped, lengths count
// characters, and quoting never repeats more than a bounded prefix.
#include "common/text.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice {
namespace {

TEST(TextTest, CheckTextAcceptsUnicodeNamesCountingCharactersNotBytes) {
  EXPECT_TRUE(CheckText("name", "Ålesund Ωmega", 1, 13).ok());
  EXPECT_TRUE(CheckText("name", "日本語", 3, 3).ok()) << "3 characters, 9 bytes";
  EXPECT_EQ(CheckText("name", "", 1, 5).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckText("ticker", "ABCDEF", 1, 5).code(), absl::StatusCode::kInvalidArgument);
}

TEST(TextTest, CheckTextRefusesNulControlCharactersAndBrokenUtf8NamingTheField) {
  const std::string nul("Bad\0Name", 8);
  absl::Status s = CheckText("records[0].name", nul, 1, 37);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("records[0].name"), std::string::npos) << s;
  EXPECT_NE(s.message().find("U+0000"), std::string::npos) << s;
  EXPECT_EQ(CheckText("f", "tab\there", 1, 37).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckText("f", "\xC3(", 1, 37).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckText("f", "\xED\xA0\x80", 1, 37).code(), absl::StatusCode::kInvalidArgument)
      << "a UTF-16 surrogate is not a character";
  EXPECT_EQ(CheckText("f", "\xC0\xAF", 1, 37).code(), absl::StatusCode::kInvalidArgument)
      << "overlong encoding";
}

TEST(TextTest, AMegabyteInputIsQuotedAsABoundedPrefix) {
  const std::string big(1 << 20, 'x');
  absl::Status s = CheckText("name", big, 1, 37);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_LT(s.message().size(), 200u) << s.message().size();
  EXPECT_NE(s.message().find("[1048576 bytes]"), std::string::npos) << s;
  EXPECT_EQ(QuotePrefix("short"), "\"short\"");
  EXPECT_EQ(QuotePrefix(std::string("a\0b", 3)), "\"a\\x00b\"");
}

TEST(TextTest, JsonWithAU0000EscapeOrBrokenUtf8IsNotStorable) {
  EXPECT_TRUE(CheckStorableJson("items_json", R"([{"name":"Ålesund \n"}])").ok());
  EXPECT_TRUE(CheckStorableJson("j", R"(["\\u0000 is text here"])").ok())
      << "an escaped backslash, then plain text";
  absl::Status s = CheckStorableJson("stashes[0].items_json", R"([{"name":"a\u0000b"}])");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("stashes[0].items_json"), std::string::npos) << s;
  EXPECT_EQ(CheckStorableJson("j", "[\"\xFF\"]").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckStorableJson("j", std::string("{}\0\"", 4)).code(),
            absl::StatusCode::kInvalidArgument)
      << "a raw NUL byte (nlohmann's parser stops there and takes \"{}\")";
}

TEST(TextTest, SanitizeForStorageEscapesAndBounds) {
  EXPECT_EQ(SanitizeForStorage(std::string("x\0y\xFFz", 5), 100), "x\\x00y\\xffz");
  const std::string cut = SanitizeForStorage(std::string(5000, 'e'), 100);
  EXPECT_EQ(cut, std::string(100, 'e') + "...");
  // Never cuts inside a character.
  EXPECT_EQ(SanitizeForStorage("ééé", 5), "éé...");
}

}  // namespace
}  // namespace sluice
