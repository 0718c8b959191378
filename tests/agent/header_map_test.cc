// HeaderMap: the agent's view of an answer's headers.
#include "agent/http/header_map.h"

#include <gtest/gtest.h>

#include "agent/throttle/rate_limit_headers.h"

namespace sluice::agent {
namespace {

TEST(HeaderMapTest, LookupIgnoresCaseAndKeepsFirst) {
  HeaderMap h;
  h.Add("ETag", "\"a\"");
  h.Add("etag", "\"b\"");
  EXPECT_EQ(h.GetOr("ETAG"), "\"a\"");
  EXPECT_FALSE(h.Get("Expires").has_value());
  EXPECT_EQ(h.GetOr("Expires", "none"), "none");
}

TEST(HeaderMapTest, AnEtagIsPassedOnOnlyWhenItIsPrintableAscii) {
  EXPECT_EQ(UsableEtag("W/\"abc-123\""), "W/\"abc-123\"");
  EXPECT_EQ(UsableEtag(""), "");
  // Latin-1 bytes would make the coordinator unable to read the result.
  EXPECT_EQ(UsableEtag("\"caf\xe9\""), "");
  EXPECT_EQ(UsableEtag("\"a\nb\""), "");
  // Longer than the coordinator takes: it would refuse the whole result.
  EXPECT_EQ(UsableEtag(std::string(kMaxEtagChars + 1, 'a')), "");
  EXPECT_EQ(UsableEtag(std::string(kMaxEtagChars, 'a')), std::string(kMaxEtagChars, 'a'));
}

TEST(RateLimitHeadersTest, OnlyRateLimitHeadersTheCoordinatorCanTakeAreForwarded) {
  HeaderMap h;
  h.Add("X-Ratelimit-Group", "char-location");
  h.Add("x-rate-limit-ip", "45:60:120");
  h.Add("Retry-After", "30");
  h.Add("Set-Cookie", "session=1");                     // not a rate-limit header
  h.Add("X-Ratelimit-Limit", "150/15m\xe9");            // not UTF-8 text: would lose the batch
  h.Add("X-Rate-Limit-Rules", std::string(9000, 'x'));  // over the coordinator's bound
  h.Add(std::string("X-Ratelimit-") + std::string(300, 'y'), "1");  // name over its bound
  using Pair = std::pair<std::string, std::string>;
  EXPECT_EQ(ForwardedRateLimitHeaders(h), (std::vector<Pair>{{"X-Ratelimit-Group", "char-location"},
                                                             {"x-rate-limit-ip", "45:60:120"},
                                                             {"Retry-After", "30"}}));
  HeaderMap many;
  for (int i = 0; i < kMaxObservationHeaders + 5; ++i) many.Add("X-Rate-Limit-Ip", "1:1:1");
  EXPECT_EQ(ForwardedRateLimitHeaders(many).size(), static_cast<size_t>(kMaxObservationHeaders));
}

}  // namespace
}  // namespace sluice::agent
