// sluicectl's commands: each one's name, what runs it, and its help (the
// usage line, what it does, which of the command's own flags apply, its
// sub-commands). The help texts for flags come from their gflags definitions,
// so a flag is described in one place. The help and the shell completion
// (`sluicectl completion bash`) are both generated from this one table.
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
  // Words that may follow the command name ("jobs run"); none for most.
  std::vector<const char*> subcommands = {};
};

const std::vector<CommandSpec>& Commands();
// Null if no command has that name.
const CommandSpec* FindCommand(const std::string& name);

// The flags every command takes (--coordinator, --json...).
const std::vector<const char*>& GlobalFlags();

// `sluicectl completion bash`: a bash script completing the commands, their
// sub-commands and flags (the command's own and the global ones), and
// `help`'s topics, generated from Commands().
std::string BashCompletionScript();

// `sluicectl help`, `-h`: the commands and the global flags.
std::string GeneralUsage();
// `sluicectl help NAME`, `sluicectl NAME -h`.
std::string CommandUsage(const CommandSpec& command);

}  // namespace sluice::cli

#endif  // SLUICE_CLIENT_COMMANDS_H_
