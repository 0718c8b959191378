// HeaderMap: the agent's view of an answer's headers.
#include "agent/http/header_map.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace sluice::agent
