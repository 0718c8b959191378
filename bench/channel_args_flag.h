// gRPC channel arguments from a flag, for benches that try gRPC's settings
// without a rebuild: "name=value,name=value", an integer value set as an
// integer, any other as a string (e.g.
// "grpc.minimal_stack=1,grpc.http2.bdp_probe=0,grpc.optimization_target=latency").
// Stateless; thread-safe.
#ifndef SLUICE_BENCH_CHANNEL_ARGS_FLAG_H_
#define SLUICE_BENCH_CHANNEL_ARGS_FLAG_H_

#include <grpcpp/grpcpp.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sluice::bench {

struct ChannelArg {
  std::string name;
  std::string value;
  bool is_int = false;
  int int_value = 0;
};

// INVALID_ARGUMENT naming the item without a '=' or a name.
absl::StatusOr<std::vector<ChannelArg>> ParseChannelArgs(absl::string_view spec);

void ApplyChannelArgs(const std::vector<ChannelArg>& args, grpc::ChannelArguments* out);
void ApplyChannelArgs(const std::vector<ChannelArg>& args, grpc::ServerBuilder* out);

}  // namespace sluice::bench

#endif  // SLUICE_BENCH_CHANNEL_ARGS_FLAG_H_
