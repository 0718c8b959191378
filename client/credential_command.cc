// sluicectl credential NAME ROLE [upstreams=..] [routes=..]: the --auth_file
// line for a bearer token read from stdin, so the token is neither on the
// command line nor in the file (common/credentials.h).
#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/cli.h"
#include "common/credentials.h"

namespace sluice::cli {

int CmdCredential(Context& ctx) {
  constexpr char kUsage[] =
      "usage: printf %s \"$TOKEN\" | sluicectl credential NAME ROLE [upstreams=A,B] "
      "[routes=/P/,/Q/]";
  if (ctx.args.size() < 2) return UsageError(kUsage);
  std::string token;
  std::getline(std::cin, token);
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.empty()) return UsageError("credential: no token on stdin\n" + std::string(kUsage));
  std::vector<std::string> fields = {ctx.args[0], ctx.args[1], Sha256Text(token)};
  fields.insert(fields.end(), ctx.args.begin() + 2, ctx.args.end());
  const std::string line = absl::StrJoin(fields, " ");
  // The coordinator's own parser says whether the line is right.
  absl::StatusOr<CredentialSet> parsed = CredentialSet::Parse(line);
  if (!parsed.ok()) return UsageError(absl::StrCat("credential: ", parsed.status().message()));
  std::cout << line << std::endl;
  return 0;
}

}  // namespace sluice::cli
