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
#include "tests/support/test_database.h"

namespace sluice::testing {
namespace {

namespace pb = google::protobuf;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Bytes of a ByteBuffer.
std::string Flatten(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string raw;
  if (!buffer.Dump(&slices).ok()) return raw;
  for (auto& s : slices) raw.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return raw;
}

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
    // Up once reflection answers a listing.
    std::string error;
    const bool up = WaitUntil(
        [&] {
          return Ask([](pb::Message* m) { Set(m, "list_services", "*"); }, &error) != nullptr;
        },
        seconds(60));
    ASSERT_TRUE(up) << "the coordinator did not come up (" << error << "):\n"
                    << coordinator_->Log();
  }

  void TearDown() override {
    if (coordinator_) {
      coordinator_->Kill();
      if (HasFailure()) fprintf(stderr, "--- coordinator log\n%s\n", coordinator_->Log().c_str());
    }
  }

  static void Set(pb::Message* m, const std::string& field, const std::string& value) {
    m->GetReflection()->SetString(m, m->GetDescriptor()->FindFieldByName(field), value);
  }
  static const pb::Message& Sub(const pb::Message& m, const std::string& field) {
    return m.GetReflection()->GetMessage(m, m.GetDescriptor()->FindFieldByName(field));
  }
  static bool Has(const pb::Message& m, const std::string& field) {
    return m.GetReflection()->HasField(m, m.GetDescriptor()->FindFieldByName(field));
  }

  // One request/response exchange on the reflection service's bidi stream
  // (v1alpha: the version gRPC 1.51 serves, and grpcurl's fallback). Null
  // with `error` set if the call failed.
  std::unique_ptr<pb::Message> Ask(const std::function<void(pb::Message*)>& fill,
                                   std::string* error) {
    const pb::DescriptorPool* generated = pb::DescriptorPool::generated_pool();
    const pb::Descriptor* req_desc =
        generated->FindMessageTypeByName("grpc.reflection.v1alpha.ServerReflectionRequest");
    const pb::Descriptor* resp_desc =
        generated->FindMessageTypeByName("grpc.reflection.v1alpha.ServerReflectionResponse");
    if (req_desc == nullptr || resp_desc == nullptr) {
      *error = "the reflection protocol's descriptors are not linked into the test";
      return nullptr;
    }
    std::unique_ptr<pb::Message> req(factory_.GetPrototype(req_desc)->New());
    fill(req.get());
    std::string bytes;
    req->SerializeToString(&bytes);

    grpc::GenericStub stub(channel_);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + seconds(5));
    grpc::CompletionQueue cq;
    void* tag;
    bool ok = false;
    auto call = stub.PrepareCall(
        &ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
    call->StartCall(reinterpret_cast<void*>(1));
    cq.Next(&tag, &ok);
    bool sent = ok;
    grpc::Slice slice(bytes);
    grpc::ByteBuffer out(&slice, 1);
    call->Write(out, reinterpret_cast<void*>(2));
    cq.Next(&tag, &ok);
    sent = sent && ok;
    call->WritesDone(reinterpret_cast<void*>(3));
    cq.Next(&tag, &ok);
    grpc::ByteBuffer in;
    call->Read(&in, reinterpret_cast<void*>(4));
    cq.Next(&tag, &ok);
    const bool received = sent && ok;
    grpc::Status status;
    call->Finish(&status, reinterpret_cast<void*>(5));
    cq.Next(&tag, &ok);
    if (!received) {
      *error = absl::StrCat("no reflection response: ", status.error_message());
      return nullptr;
    }
    std::unique_ptr<pb::Message> resp(factory_.GetPrototype(resp_desc)->New());
    if (!resp->ParseFromString(Flatten(in))) {
      *error = "unparsable reflection response";
      return nullptr;
    }
    return resp;
  }

  // `file_containing_symbol`: the files reflection answers for `symbol`,
  // added to `pool` in dependency order. False with the server's error
  // message (grpcurl prints it: "Symbol not found: ...").
  bool Resolve(const std::string& symbol, pb::DescriptorPool* pool, std::string* error) {
    auto resp = Ask([&](pb::Message* m) { Set(m, "file_containing_symbol", symbol); }, error);
    if (resp == nullptr) return false;
    if (Has(*resp, "error_response")) {
      const pb::Message& err = Sub(*resp, "error_response");
      *error = err.GetReflection()->GetString(
          err, err.GetDescriptor()->FindFieldByName("error_message"));
      return false;
    }
    const pb::Message& files = Sub(*resp, "file_descriptor_response");
    const pb::FieldDescriptor* protos =
        files.GetDescriptor()->FindFieldByName("file_descriptor_proto");
    std::vector<pb::FileDescriptorProto> pending;
    for (int i = 0; i < files.GetReflection()->FieldSize(files, protos); ++i) {
      pb::FileDescriptorProto p;
      if (!p.ParseFromString(files.GetReflection()->GetRepeatedString(files, protos, i))) {
        *error = "an unparsable FileDescriptorProto";
        return false;
      }
      pending.push_back(p);
    }
    for (int pass = 0; pass < 10 && !pending.empty(); ++pass) {
      for (auto it = pending.begin(); it != pending.end();) {
        it = pool->FindFileByName(it->name()) != nullptr || pool->BuildFile(*it) != nullptr
                 ? pending.erase(it)
                 : std::next(it);
      }
    }
    if (!pending.empty()) *error = "files that do not build: " + pending.front().name();
    return pending.empty();
  }

  TestDatabase db_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> coordinator_;
  std::shared_ptr<grpc::Channel> channel_;
  pb::DynamicMessageFactory factory_;
};

TEST_F(HealthReflectionTest, ListsResolvesAndCallsHealthCheckLikeGrpcurl) {
  // `grpcurl list`
  std::string error;
  auto listed = Ask([](pb::Message* m) { Set(m, "list_services", "*"); }, &error);
  ASSERT_NE(listed, nullptr) << error;
  const pb::Message& list = Sub(*listed, "list_services_response");
  const pb::FieldDescriptor* service_field = list.GetDescriptor()->FindFieldByName("service");
  std::set<std::string> names;
  for (int i = 0; i < list.GetReflection()->FieldSize(list, service_field); ++i) {
    const pb::Message& svc = list.GetReflection()->GetRepeatedMessage(list, service_field, i);
    names.insert(svc.GetReflection()->GetString(svc, svc.GetDescriptor()->FindFieldByName("name")));
  }
  EXPECT_TRUE(names.count("grpc.health.v1.Health"));

  // `grpcurl describe grpc.health.v1.Health`: the symbol resolves, with both
  // methods and their message types, from the server's answer alone.
  pb::DescriptorPool pool;
  ASSERT_TRUE(Resolve("grpc.health.v1.Health", &pool, &error)) << error;
  const pb::ServiceDescriptor* health = pool.FindServiceByName("grpc.health.v1.Health");
  ASSERT_NE(health, nullptr);
  const pb::MethodDescriptor* check = health->FindMethodByName("Check");
  ASSERT_NE(check, nullptr);
  EXPECT_NE(health->FindMethodByName("Watch"), nullptr);
  EXPECT_EQ(check->input_type()->full_name(), "grpc.health.v1.HealthCheckRequest");
  EXPECT_EQ(check->output_type()->full_name(), "grpc.health.v1.HealthCheckResponse");
  // Message types resolve on their own too (grpcurl describes them by name).
  pb::DescriptorPool by_message;
  EXPECT_TRUE(Resolve("grpc.health.v1.HealthCheckResponse", &by_message, &error)) << error;

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
