// The wire's priority classes map onto the queue's, and an unknown class is
// refused naming the field (the domain type cannot hold one).
#include "server/service/wire.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(WireTest, PriorityClassesRoundTrip) {
  for (auto c :
       {v1::PRIORITY_CLASS_BACKGROUND, v1::PRIORITY_CLASS_MANUAL, v1::PRIORITY_CLASS_USER}) {
    Priority p;
    ASSERT_TRUE(PriorityFromWire(c, "priority", &p).ok());
    EXPECT_EQ(PriorityToWire(PriorityValue(p)), c);
  }
}

TEST(WireTest, UnspecifiedPriorityIsManual) {
  Priority p = Priority::kUser;
  ASSERT_TRUE(PriorityFromWire(v1::PRIORITY_CLASS_UNSPECIFIED, "priority", &p).ok());
  EXPECT_EQ(p, Priority::kManual);
}

TEST(WireTest, UnknownPriorityClassIsInvalidNamingTheField) {
  Priority p;
  grpc::Status s = PriorityFromWire(static_cast<v1::PriorityClass>(42), "tasks[3].priority", &p);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("tasks[3].priority"), std::string::npos) << s.error_message();
}

}  // namespace
}  // namespace sluice
