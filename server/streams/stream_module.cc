#include "server/streams/stream_module.h"

namespace sluice {

StreamOptions StreamOptionsFromFlags() { return StreamOptions{}; }

std::vector<std::pair<std::string, std::string>> StreamFlagEnv() { return {}; }

}  // namespace sluice
