// `grpcurl -plaintext HOST:PORT grpc.health.v1.Health/Check` against a real
// sluice-coordinator process, done the way grpcurl does it: ask the server
// reflection service for the file that defines grpc.health.v1.Health, build a
// descriptor pool from what it answers, encode the request from that pool and
// decode the answer with it. No generated health code is used on this side.
//
// The coordinator's health service is gRPC's built-in one, whose messages are
// not protobuf-generated, so the reflection service finds the symbol only if
// the binary itself registered health.proto's descriptor (grpc/grpc#36665;
// protos/CMakeLists.txt links it whole). An in-process server would prove
// nothing: the test binary links the health stubs of its own. Hence a child
// process of the real binary.
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/support/child_process.h"
#include "tests/support/ports.h"
#include "tests/support/reflection_client.h"
#include "tests/support/test_database.h"

namespace sluice::testing {
namespace {

namespace pb = google::protobuf;
using std::chrono::milliseconds;
using std::chrono::seconds;

class HealthReflectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The reflection protocol's own descriptors come from libgrpc++_reflection,
    // which the linker keeps only if something of it is called (this builds no
    // server, so the plugin it registers is never used).
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    port_ = UnusedLoopbackPort();
    coordinator_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{SLUICE_COORDINATOR_BINARY,
                                 absl::StrCat("--listen=127.0.0.1:", port_), "--dsn=" + db_.dsn(),
                                 "--ops_listen=", "--jobs_enabled=false",
                                 "--auth_token=", "--db_pool_size=2", "--drain_s=1"},
        std::vector<std::string>{"GLOG_logtostderr=1"},
        absl::StrCat(::testing::TempDir(), "health-reflection-", getpid(), ".log"));
    ASSERT_GT(coordinator_->pid(), 0);
    channel_ =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials());
    reflection_ = std::make_unique<ReflectionClient>(channel_);
    // Up once reflection answers a listing.
    std::string error;
    std::set<std::string> names;
    const bool up =
        WaitUntil([&] { return reflection_->ListServices(&names, &error); }, seconds(60));
    ASSERT_TRUE(up) << "the coordinator did not come up (" << error << "):\n"
                    << coordinator_->Log();
  }

  void TearDown() override {
    if (coordinator_) {
      coordinator_->Kill();
      if (HasFailure()) fprintf(stderr, "--- coordinator log\n%s\n", coordinator_->Log().c_str());
    }
  }

  TestDatabase db_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> coordinator_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<ReflectionClient> reflection_;
};

TEST_F(HealthReflectionTest, ListsResolvesAndCallsHealthCheckLikeGrpcurl) {
  // `grpcurl list`
  std::string error;
  std::set<std::string> names;
  ASSERT_TRUE(reflection_->ListServices(&names, &error)) << error;
  EXPECT_TRUE(names.count("grpc.health.v1.Health"));

  // `grpcurl describe grpc.health.v1.Health`: the symbol resolves, with both
  // methods and their message types, from the server's answer alone.
  pb::DescriptorPool pool;
  ASSERT_TRUE(reflection_->Resolve("grpc.health.v1.Health", &pool, &error)) << error;
  const pb::ServiceDescriptor* health = pool.FindServiceByName("grpc.health.v1.Health");
  ASSERT_NE(health, nullptr);
  const pb::MethodDescriptor* check = health->FindMethodByName("Check");
  ASSERT_NE(check, nullptr);
  EXPECT_NE(health->FindMethodByName("Watch"), nullptr);
  EXPECT_EQ(check->input_type()->full_name(), "grpc.health.v1.HealthCheckRequest");
  EXPECT_EQ(check->output_type()->full_name(), "grpc.health.v1.HealthCheckResponse");
  // Message types resolve on their own too (grpcurl describes them by name).
  pb::DescriptorPool by_message;
  EXPECT_TRUE(reflection_->Resolve("grpc.health.v1.HealthCheckResponse", &by_message, &error))
      << error;

  // `grpcurl -d '{"service": ...}' ... grpc.health.v1.Health/Check`: encode
  // the request and decode the answer with the descriptors reflection gave.
  pb::DynamicMessageFactory factory(&pool);
  for (const std::string service : {"", "sluice.v1.AgentService"}) {
    std::unique_ptr<pb::Message> req(factory.GetPrototype(check->input_type())->New());
    req->GetReflection()->SetString(req.get(), check->input_type()->FindFieldByName("service"),
                                    service);
    std::string bytes;
    req->SerializeToString(&bytes);
    grpc::GenericStub stub(channel_);
    grpc::CompletionQueue cq;
    // The health loop marks the services SERVING once it has reached the
    // database; ask until it has.
    std::string status_name;
    WaitUntil(
        [&] {
          grpc::ClientContext ctx;
          ctx.set_deadline(std::chrono::system_clock::now() + seconds(2));
          grpc::Slice slice(bytes);
          grpc::ByteBuffer out(&slice, 1);
          grpc::ByteBuffer in;
          grpc::Status status;
          auto call = stub.PrepareUnaryCall(&ctx, "/grpc.health.v1.Health/Check", out, &cq);
          call->StartCall();
          call->Finish(&in, &status, reinterpret_cast<void*>(1));
          void* tag;
          bool ok;
          cq.Next(&tag, &ok);
          if (!status.ok()) {
            status_name = absl::StrCat("error ", status.error_code(), ": ", status.error_message());
            return false;
          }
          std::unique_ptr<pb::Message> resp(factory.GetPrototype(check->output_type())->New());
          if (!resp->ParseFromString(Flatten(in))) {
            status_name = "unparsable";
            return false;
          }
          const pb::FieldDescriptor* f = check->output_type()->FindFieldByName("status");
          status_name = resp->GetReflection()->GetEnum(*resp, f)->name();
          return status_name == "SERVING";
        },
        seconds(30));
    EXPECT_EQ(status_name, "SERVING") << "service \"" << service << "\"";
  }
}

}  // namespace
}  // namespace sluice::testing
