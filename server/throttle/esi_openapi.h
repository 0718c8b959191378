// ESI publishes its OpenAPI specification with an `x-rate-limit` extension on
// every operation of a rate-limited route (esi-docs, "Rate Limiting": "Each
// route is assigned to a rate limit group. This is mentioned both in the
// response headers as in the API specifications"):
//
//   "paths": {"/characters/{character_id}/killmails/recent/": {"get": {
//       "x-rate-limit": {"group": "char-killmail", "window-size": "15m",
//                        "max-tokens": 30}, ...}}}
//
// ParseEsiOpenApi turns such a document into route -> group seeds for the
// throttler, so a route's first call is already charged to its group.
// EsiRouteSeeder loads a file of it at start-up and again whenever the
// operator replaces the file.
//
// Thread-safety: ParseEsiOpenApi is reentrant. EsiRouteSeeder: Start/Stop
// from one thread; it borrows the Throttler (must outlive it).
#ifndef SLUICE_SERVER_THROTTLE_ESI_OPENAPI_H_
#define SLUICE_SERVER_THROTTLE_ESI_OPENAPI_H_

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/throttle/throttler.h"

namespace sluice::throttle {

// Every operation with a well-formed x-rate-limit. A document that is not an
// OpenAPI object is an error; a malformed extension on one operation is
// skipped (and named in *problems when given).
absl::StatusOr<std::vector<EsiRouteSeed>> ParseEsiOpenApi(
    absl::string_view json, std::vector<std::string>* problems = nullptr);

class EsiRouteSeeder {
 public:
  EsiRouteSeeder(Throttler* throttler, std::string path, Duration poll);
  ~EsiRouteSeeder();

  // Loads the file once (an error if it cannot be read or parsed), then
  // watches it for changes.
  absl::Status Start();
  void Stop();

 private:
  absl::Status LoadIfChanged();
  void Loop();

  Throttler* const throttler_;
  const std::string path_;
  const Duration poll_;
  std::optional<std::filesystem::file_time_type> loaded_mtime_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace sluice::throttle

#endif  // SLUICE_SERVER_THROTTLE_ESI_OPENAPI_H_
