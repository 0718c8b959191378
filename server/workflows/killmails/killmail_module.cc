#include "server/workflows/killmails/killmail_module.h"

namespace sluice {

KillmailOptions KillmailOptionsFromFlags() { return KillmailOptions{}; }

std::vector<std::pair<std::string, std::string>> KillmailFlagEnv() { return {}; }

}  // namespace sluice
