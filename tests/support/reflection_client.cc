#include "tests/support/reflection_client.h"

#include <google/protobuf/descriptor.pb.h>
#include <grpcpp/generic/generic_stub.h>

#include <chrono>
#include <vector>

namespace sluice::testing {

namespace pb = google::protobuf;

std::string Flatten(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string raw;
  if (!buffer.Dump(&slices).ok()) return raw;
  for (auto& s : slices) raw.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return raw;
}

void ReflectionClient::Set(pb::Message* m, const std::string& field, const std::string& value) {
  m->GetReflection()->SetString(m, m->GetDescriptor()->FindFieldByName(field), value);
}

const pb::Message& ReflectionClient::Sub(const pb::Message& m, const std::string& field) {
  return m.GetReflection()->GetMessage(m, m.GetDescriptor()->FindFieldByName(field));
}

bool ReflectionClient::Has(const pb::Message& m, const std::string& field) {
  return m.GetReflection()->HasField(m, m.GetDescriptor()->FindFieldByName(field));
}

std::unique_ptr<pb::Message> ReflectionClient::Ask(const std::function<void(pb::Message*)>& fill,
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
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::CompletionQueue cq;
  void* tag;
  bool ok = false;
  auto call =
      stub.PrepareCall(&ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
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
    *error = "no reflection response: " + status.error_message();
    return nullptr;
  }
  std::unique_ptr<pb::Message> resp(factory_.GetPrototype(resp_desc)->New());
  if (!resp->ParseFromString(Flatten(in))) {
    *error = "unparsable reflection response";
    return nullptr;
  }
  return resp;
}

bool ReflectionClient::ListServices(std::set<std::string>* names, std::string* error) {
  auto listed = Ask([](pb::Message* m) { Set(m, "list_services", "*"); }, error);
  if (listed == nullptr) return false;
  const pb::Message& list = Sub(*listed, "list_services_response");
  const pb::FieldDescriptor* service_field = list.GetDescriptor()->FindFieldByName("service");
  for (int i = 0; i < list.GetReflection()->FieldSize(list, service_field); ++i) {
    const pb::Message& svc = list.GetReflection()->GetRepeatedMessage(list, service_field, i);
    names->insert(
        svc.GetReflection()->GetString(svc, svc.GetDescriptor()->FindFieldByName("name")));
  }
  return true;
}

bool ReflectionClient::Resolve(const std::string& symbol, pb::DescriptorPool* pool,
                               std::string* error) {
  auto resp = Ask([&](pb::Message* m) { Set(m, "file_containing_symbol", symbol); }, error);
  if (resp == nullptr) return false;
  if (Has(*resp, "error_response")) {
    const pb::Message& err = Sub(*resp, "error_response");
    *error =
        err.GetReflection()->GetString(err, err.GetDescriptor()->FindFieldByName("error_message"));
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
  if (pending.empty()) {
    *error = "no files in the answer";
    return false;
  }
  // Dependencies come in the same answer, in no promised order.
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

}  // namespace sluice::testing
