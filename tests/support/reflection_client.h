// ReflectionClient: what grpcurl does with a server's reflection service,
// for tests. It asks one question at a time on the bidi ServerReflectionInfo
// stream (v1alpha: the version gRPC 1.51 serves, and grpcurl's fallback),
// encoding requests from the reflection protocol's own descriptors, and
// builds descriptor pools from the files the server answers with. No .proto
// file and no generated reflection stub is used.
//
// The reflection protocol's descriptors come from libgrpc++_reflection: a
// test that builds no server must call
// grpc::reflection::InitProtoReflectionServerBuilderPlugin() so the linker
// keeps them.
//
// Ownership: shares the channel. Thread-safety: one thread at a time.
#ifndef SLUICE_TESTS_SUPPORT_REFLECTION_CLIENT_H_
#define SLUICE_TESTS_SUPPORT_REFLECTION_CLIENT_H_

#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <set>
#include <string>

namespace sluice::testing {

class ReflectionClient {
 public:
  explicit ReflectionClient(std::shared_ptr<grpc::Channel> channel)
      : channel_(std::move(channel)) {}

  // One request/response exchange: `fill` sets the ServerReflectionRequest.
  // Null with `error` set if the call failed.
  std::unique_ptr<google::protobuf::Message> Ask(
      const std::function<void(google::protobuf::Message*)>& fill, std::string* error);

  // The services `list_services` names; false with `error` set on failure.
  bool ListServices(std::set<std::string>* names, std::string* error);

  // `file_containing_symbol`: the files the server answers for `symbol`,
  // added to `pool` in dependency order. False with the server's error
  // message (what grpcurl prints: "Symbol not found: ...").
  bool Resolve(const std::string& symbol, google::protobuf::DescriptorPool* pool,
               std::string* error);

  // Message helpers for the dynamic reflection messages.
  static void Set(google::protobuf::Message* m, const std::string& field, const std::string& value);
  static const google::protobuf::Message& Sub(const google::protobuf::Message& m,
                                              const std::string& field);
  static bool Has(const google::protobuf::Message& m, const std::string& field);

 private:
  std::shared_ptr<grpc::Channel> channel_;
  google::protobuf::DynamicMessageFactory factory_;
};

// The bytes of a ByteBuffer.
std::string Flatten(const grpc::ByteBuffer& buffer);

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_SUPPORT_REFLECTION_CLIENT_H_
