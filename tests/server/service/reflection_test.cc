// Server reflection works the way grpcurl uses it: list the services, fetch
// their file descriptors, and build a descriptor pool that describes every
// method without any .proto file. Requests go over a generic stub, encoded
// from the reflection protocol's own descriptors.
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>
#include <grpcpp/generic/generic_stub.h>

#include <set>

#include "tests/server/service/coordinator_fixture.h"

namespace sluice::testing {
namespace {

namespace pb = google::protobuf;

class ReflectionTest : public CoordinatorFixture {
 protected:
  void SetUp() override { StartCoordinator(); }

  // One request/response exchange on the bidi ServerReflectionInfo stream.
  std::unique_ptr<pb::Message> Ask(const std::function<void(pb::Message*)>& fill) {
    const pb::Descriptor* req_desc = pb::DescriptorPool::generated_pool()->FindMessageTypeByName(
        "grpc.reflection.v1alpha.ServerReflectionRequest");
    const pb::Descriptor* resp_desc = pb::DescriptorPool::generated_pool()->FindMessageTypeByName(
        "grpc.reflection.v1alpha.ServerReflectionResponse");
    EXPECT_NE(req_desc, nullptr);
    EXPECT_NE(resp_desc, nullptr);
    if (!req_desc || !resp_desc) return nullptr;
    std::unique_ptr<pb::Message> req(factory_.GetPrototype(req_desc)->New());
    fill(req.get());
    std::string bytes;
    req->SerializeToString(&bytes);

    grpc::GenericStub stub(channel_);
    grpc::ClientContext ctx;
    grpc::CompletionQueue cq;
    void* tag;
    bool ok;
    auto call = stub.PrepareCall(
        &ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
    call->StartCall(reinterpret_cast<void*>(1));
    cq.Next(&tag, &ok);
    grpc::Slice slice(bytes);
    grpc::ByteBuffer out(&slice, 1);
    call->Write(out, reinterpret_cast<void*>(2));
    cq.Next(&tag, &ok);
    call->WritesDone(reinterpret_cast<void*>(3));
    cq.Next(&tag, &ok);
    grpc::ByteBuffer in;
    call->Read(&in, reinterpret_cast<void*>(4));
    cq.Next(&tag, &ok);
    EXPECT_TRUE(ok) << "no reflection response";
    std::vector<grpc::Slice> slices;
    in.Dump(&slices);
    std::string raw;
    for (auto& s : slices) raw.append(reinterpret_cast<const char*>(s.begin()), s.size());
    grpc::Status status;
    call->Finish(&status, reinterpret_cast<void*>(5));
    cq.Next(&tag, &ok);
    std::unique_ptr<pb::Message> resp(factory_.GetPrototype(resp_desc)->New());
    EXPECT_TRUE(resp->ParseFromString(raw));
    return resp;
  }

  pb::DynamicMessageFactory factory_;
};

TEST_F(ReflectionTest, ListsAndDescribesEveryServiceWithoutProtoFiles) {
  auto listed = Ask([](pb::Message* m) {
    m->GetReflection()->SetString(m, m->GetDescriptor()->FindFieldByName("list_services"), "*");
  });
  ASSERT_NE(listed, nullptr);
  const pb::Message& list = listed->GetReflection()->GetMessage(
      *listed, listed->GetDescriptor()->FindFieldByName("list_services_response"));
  const pb::FieldDescriptor* service_field = list.GetDescriptor()->FindFieldByName("service");
  std::set<std::string> names;
  for (int i = 0; i < list.GetReflection()->FieldSize(list, service_field); ++i) {
    const pb::Message& svc = list.GetReflection()->GetRepeatedMessage(list, service_field, i);
    names.insert(svc.GetReflection()->GetString(svc, svc.GetDescriptor()->FindFieldByName("name")));
  }
  for (const char* want :
       {"sluice.v1.AgentService", "sluice.v1.AdminService", "grpc.health.v1.Health"}) {
    EXPECT_TRUE(names.count(want)) << want << " not listed";
  }

  // Describe AgentService the way `grpcurl describe` does.
  auto files = Ask([](pb::Message* m) {
    m->GetReflection()->SetString(m, m->GetDescriptor()->FindFieldByName("file_containing_symbol"),
                                  "sluice.v1.AgentService");
  });
  ASSERT_NE(files, nullptr);
  const pb::Message& fd_resp = files->GetReflection()->GetMessage(
      *files, files->GetDescriptor()->FindFieldByName("file_descriptor_response"));
  const pb::FieldDescriptor* protos =
      fd_resp.GetDescriptor()->FindFieldByName("file_descriptor_proto");
  pb::DescriptorPool pool;
  std::vector<pb::FileDescriptorProto> pending;
  for (int i = 0; i < fd_resp.GetReflection()->FieldSize(fd_resp, protos); ++i) {
    pb::FileDescriptorProto p;
    ASSERT_TRUE(p.ParseFromString(fd_resp.GetReflection()->GetRepeatedString(fd_resp, protos, i)));
    pending.push_back(p);
  }
  ASSERT_FALSE(pending.empty());
  // Dependencies come in the same response; add them in dependency order.
  for (int pass = 0; pass < 10 && !pending.empty(); ++pass) {
    for (auto it = pending.begin(); it != pending.end();) {
      it = pool.BuildFile(*it) ? pending.erase(it) : std::next(it);
    }
  }
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
