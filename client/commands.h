// sluicectl's commands: each one's name, what runs it, and its help (the
// usage line, what it does, which of the command's own flags apply). The
// help texts for flags come from their gflags definitions, so a flag is
// described in one place.
#ifndef SLUICE_CLIENT_COMMANDS_H_
#define SLUICE_CLIENT_COMMANDS_H_

#include <string>
#include <vector>

#include "client/cli.h"

namespace sluice::cli {

struct CommandSpec {
  const char* name;
  Command run;
  const char* usage;               // "enqueue KIND [IDS...]"
  const char* summary;             // one line, for the command list
  const char* details;             // more, for `sluicectl help NAME`; may be empty
  std::vector<const char*> flags;  // the command's own flags
};

const std::vector<CommandSpec>& Commands();
// Null if no command has that name.
const CommandSpec* FindCommand(const std::string& name);

// `sluicectl help`, `-h`: the commands and the global flags.
std::string GeneralUsage();
// `sluicectl help NAME`, `sluicectl NAME -h`.
std::string CommandUsage(const CommandSpec& command);

}  // namespace sluice::cli

#endif  // SLUICE_CLIENT_COMMANDS_H_
