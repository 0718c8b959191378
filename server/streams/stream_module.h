// StreamModule: see workflow_module.h. (Skeleton: filled in by the module's
// implementation.)
#ifndef SLUICE_SERVER_STREAMS_STREAM_MODULE_H_
#define SLUICE_SERVER_STREAMS_STREAM_MODULE_H_

#include <string>
#include <utility>
#include <vector>

#include "server/workflows/workflow_module.h"

namespace sluice {

struct StreamOptions {};

StreamOptions StreamOptionsFromFlags();
// (flag, ENV_VAR) pairs for this module's flags (12-factor configuration).
std::vector<std::pair<std::string, std::string>> StreamFlagEnv();

class StreamModule : public WorkflowModule {
 public:
  explicit StreamModule(StreamOptions options) : options_(std::move(options)) {}
  void RegisterKinds() override {}
  void Wire(WorkflowWiring& wiring) override { (void)wiring; }

 private:
  StreamOptions options_;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_STREAMS_STREAM_MODULE_H_
