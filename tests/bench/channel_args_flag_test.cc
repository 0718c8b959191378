#include "bench/channel_args_flag.h"

#include <gtest/gtest.h>

#include <grpc/grpc.h>

namespace sluice::bench {
namespace {

TEST(ParseChannelArgs, IntegersAreSetAsIntegersAndTheRestAsStrings) {
  auto args = ParseChannelArgs("grpc.minimal_stack=1, grpc.optimization_target=latency");
  ASSERT_TRUE(args.ok()) << args.status();
  ASSERT_EQ(args->size(), 2u);
  EXPECT_EQ((*args)[0].name, "grpc.minimal_stack");
  EXPECT_TRUE((*args)[0].is_int);
  EXPECT_EQ((*args)[0].int_value, 1);
  EXPECT_EQ((*args)[1].name, "grpc.optimization_target");
  EXPECT_FALSE((*args)[1].is_int);
  EXPECT_EQ((*args)[1].value, "latency");

  grpc::ChannelArguments channel;
  ApplyChannelArgs(*args, &channel);
  grpc_channel_args c = channel.c_channel_args();
  bool saw_int = false;
  bool saw_string = false;
  for (size_t i = 0; i < c.num_args; ++i) {
    const grpc_arg& a = c.args[i];
    if (std::string(a.key) == "grpc.minimal_stack") {
      saw_int = a.type == GRPC_ARG_INTEGER && a.value.integer == 1;
    }
    if (std::string(a.key) == "grpc.optimization_target") {
      saw_string = a.type == GRPC_ARG_STRING && std::string(a.value.string) == "latency";
    }
  }
  EXPECT_TRUE(saw_int);
  EXPECT_TRUE(saw_string);
}

TEST(ParseChannelArgs, EmptyMeansNone) {
  auto args = ParseChannelArgs("");
  ASSERT_TRUE(args.ok());
  EXPECT_TRUE(args->empty());
}

TEST(ParseChannelArgs, AnItemWithoutValueOrNameIsRefusedByName) {
  auto no_value = ParseChannelArgs("grpc.minimal_stack");
  ASSERT_FALSE(no_value.ok());
  EXPECT_EQ(no_value.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(no_value.status().message().find("grpc.minimal_stack"), std::string::npos);
  EXPECT_FALSE(ParseChannelArgs("=1").ok());
}

}  // namespace
}  // namespace sluice::bench
