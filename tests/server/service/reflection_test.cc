// Server reflection works the way grpcurl uses it: list the services, fetch
// their file descriptors, and build a descriptor pool that describes every
// method without any .proto file (tests/support/reflection_client.h).
#include <set>

#include "tests/server/service/coordinator_fixture.h"
#include "tests/support/reflection_client.h"

namespace sluice::testing {
namespace {

namespace pb = google::protobuf;

class ReflectionTest : public CoordinatorFixture {
 protected:
  void SetUp() override { StartCoordinator(); }
};

TEST_F(ReflectionTest, ListsAndDescribesEveryServiceWithoutProtoFiles) {
  ReflectionClient reflection(channel_);
  std::string error;
  std::set<std::string> names;
  ASSERT_TRUE(reflection.ListServices(&names, &error)) << error;
  for (const char* want :
       {"sluice.v1.AgentService", "sluice.v1.AdminService", "grpc.health.v1.Health"}) {
    EXPECT_TRUE(names.count(want)) << want << " not listed";
  }

  // Describe AgentService the way `grpcurl describe` does.
  pb::DescriptorPool pool;
  ASSERT_TRUE(reflection.Resolve("sluice.v1.AgentService", &pool, &error)) << error;
  const pb::ServiceDescriptor* svc = pool.FindServiceByName("sluice.v1.AgentService");
  ASSERT_NE(svc, nullptr);
  std::set<std::string> methods;
  for (int i = 0; i < svc->method_count(); ++i) methods.insert(svc->method(i)->name());
  EXPECT_EQ(methods, (std::set<std::string>{"LeaseTasks", "ExtendLease", "CompleteTask",
                                            "CompleteTasks", "FailTask"}));
  EXPECT_NE(pool.FindMessageTypeByName("sluice.v1.CorporationRecord"), nullptr);
}

}  // namespace
}  // namespace sluice::testing
