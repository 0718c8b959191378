#include "bench/channel_args_flag.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace sluice::bench {

absl::StatusOr<std::vector<ChannelArg>> ParseChannelArgs(absl::string_view spec) {
  std::vector<ChannelArg> out;
  for (absl::string_view item : absl::StrSplit(spec, ',', absl::SkipWhitespace())) {
    item = absl::StripAsciiWhitespace(item);
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(item, absl::MaxSplits('=', 1));
    if (kv.first.empty() || item.find('=') == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("channel argument '", item, "' is not name=value"));
    }
    ChannelArg arg;
    arg.name = std::string(kv.first);
    arg.value = std::string(kv.second);
    arg.is_int = absl::SimpleAtoi(kv.second, &arg.int_value);
    out.push_back(std::move(arg));
  }
  return out;
}

void ApplyChannelArgs(const std::vector<ChannelArg>& args, grpc::ChannelArguments* out) {
  for (const ChannelArg& a : args) {
    if (a.is_int) {
      out->SetInt(a.name, a.int_value);
    } else {
      out->SetString(a.name, a.value);
    }
  }
}

void ApplyChannelArgs(const std::vector<ChannelArg>& args, grpc::ServerBuilder* out) {
  for (const ChannelArg& a : args) {
    if (a.is_int) {
      out->AddChannelArgument(a.name, a.int_value);
    } else {
      out->AddChannelArgument(a.name, a.value);
    }
  }
}

}  // namespace sluice::bench
