#include "server/store/savepoint.h"

namespace sluice {

absl::Status SqlErrorStatus(const pqxx::sql_error& e, const std::string& what) {
  const std::string state = e.sqlstate();
  // The first line of the server's message, bounded: enough to act on,
  // never a whole record echoed back.
  std::string message = e.what();
  if (const size_t nl = message.find('\n'); nl != std::string::npos) message.resize(nl);
  if (message.size() > 300) message = message.substr(0, 300) + "...";
  const std::string text = what + " rejected by the database (" + state + "): " + message;
  if (state.rfind("22", 0) == 0 || state.rfind("23", 0) == 0) {
    return absl::InvalidArgumentError(text);
  }
  return absl::InternalError(text);
}

}  // namespace sluice
