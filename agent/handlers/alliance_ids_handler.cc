// alliance_ids: GET /alliances/ lists every live alliance. Its whole purpose
// is to refresh what it lists, so both follow-up kinds are forced.
#include "absl/strings/str_cat.h"
#include "agent/handlers/all_handlers.h"
#include "agent/handlers/esi_json.h"

namespace sluice::agent {
namespace {

class AllianceIdsHandler final : public Handler {
 public:
  explicit AllianceIdsHandler(const HandlerConfig& config) : base_(config.esi_base_url) {}

  UpstreamRequest BuildRequest(const sluice::v1::Task& task) const override {
    return {esi::JoinUrl(base_, "/alliances/"), {}};
  }

  absl::StatusOr<HandlerResult> Parse(const sluice::v1::Task& task,
                                      const HttpResponse& response) const override {
    auto ids = esi::ParseIdArray(response.body, "alliance_ids");
    if (!ids.ok()) return ids.status();
    HandlerResult result;
    esi::AddDiscovered(&result, "alliance", *ids, /*force=*/true);
    esi::AddDiscovered(&result, "alliance_corporations", *ids, /*force=*/true);
    return result;
  }

 private:
  const std::string base_;
};

}  // namespace

void RegisterAllianceIdsHandler(HandlerRegistry& registry) {
  registry.Register(
      HandlerSpec{"alliance_ids", {"esi", "/alliances/"}, nullptr, [](const HandlerConfig& c) {
                    return std::make_unique<AllianceIdsHandler>(c);
                  }});
}

}  // namespace sluice::agent
