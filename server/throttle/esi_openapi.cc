#include "server/throttle/esi_openapi.h"

#include <glog/logging.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "server/throttle/header_parser.h"

namespace sluice::throttle {

absl::StatusOr<std::vector<EsiRouteSeed>> ParseEsiOpenApi(absl::string_view text,
                                                          std::vector<std::string>* problems) {
  nlohmann::json doc =
      nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("paths") ||
      !doc["paths"].is_object()) {
    return absl::InvalidArgumentError("not an OpenAPI document (no \"paths\" object)");
  }
  std::vector<EsiRouteSeed> out;
  auto problem = [&](std::string p) {
    if (problems != nullptr) problems->push_back(std::move(p));
  };
  for (const auto& [path, operations] : doc["paths"].items()) {
    if (!operations.is_object()) continue;
    for (const auto& [method, op] : operations.items()) {
      if (!op.is_object() || !op.contains("x-rate-limit")) continue;
      const nlohmann::json& x = op["x-rate-limit"];
      const std::string where = absl::StrCat(method, " ", path, ": x-rate-limit ");
      if (!x.is_object() || !x.contains("group") || !x["group"].is_string() ||
          !x.contains("window-size") || !x["window-size"].is_string() ||
          !x.contains("max-tokens") || !x["max-tokens"].is_number_integer()) {
        problem(where + "needs group, window-size and max-tokens");
        continue;
      }
      const std::string group = x["group"].get<std::string>();
      if (!IsSafeName(group)) {
        problem(where + "group '" + group + "' is not a usable name");
        continue;
      }
      absl::StatusOr<std::pair<int64_t, Duration>> limit = ParseEsiLimit(
          absl::StrCat(x["max-tokens"].get<int64_t>(), "/", x["window-size"].get<std::string>()));
      if (!limit.ok() || limit->first <= 0) {
        problem(where + "has an unusable window-size or max-tokens");
        continue;
      }
      out.push_back(EsiRouteSeed{path, group, WindowLimit{limit->first, limit->second}});
    }
  }
  return out;
}

EsiRouteSeeder::EsiRouteSeeder(Throttler* throttler, std::string path, Duration poll)
    : throttler_(throttler), path_(std::move(path)), poll_(poll) {}

EsiRouteSeeder::~EsiRouteSeeder() { Stop(); }

absl::Status EsiRouteSeeder::LoadIfChanged() {
  std::error_code ec;
  const auto mtime = std::filesystem::last_write_time(path_, ec);
  if (ec) return absl::NotFoundError(absl::StrCat("cannot stat ", path_, ": ", ec.message()));
  if (loaded_mtime_ && *loaded_mtime_ == mtime) return absl::OkStatus();
  std::ifstream in(path_);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path_));
  std::stringstream text;
  text << in.rdbuf();
  std::vector<std::string> problems;
  absl::StatusOr<std::vector<EsiRouteSeed>> seeds = ParseEsiOpenApi(text.str(), &problems);
  if (!seeds.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path_, ": ", seeds.status().message()));
  }
  for (const std::string& p : problems) LOG(WARNING) << path_ << ": " << p;
  const int changed = throttler_->SeedEsiRoutes(*seeds);
  loaded_mtime_ = mtime;
  LOG(INFO) << "throttle: " << seeds->size() << " rate-limited ESI routes in " << path_ << " ("
            << changed << " new or changed mappings)";
  return absl::OkStatus();
}

absl::Status EsiRouteSeeder::Start() {
  if (absl::Status s = LoadIfChanged(); !s.ok()) return s;
  thread_ = std::thread([this] { Loop(); });
  return absl::OkStatus();
}

void EsiRouteSeeder::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, poll_, [this] { return stop_; })) {
    lock.unlock();
    absl::Status s = LoadIfChanged();
    // A half-written or removed file keeps what was learned.
    if (!s.ok()) {
      LOG_EVERY_N(WARNING, 20) << "throttle: ESI OpenAPI file not reloaded: " << s;
    }
    lock.lock();
  }
}

void EsiRouteSeeder::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace sluice::throttle
