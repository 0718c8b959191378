// alliance_corporations: GET /alliances/{id}/corporations/ lists member
// corporations. Seed 001: "without this step, corporations cannot be
// discovered", so the listed corporations are forced.
#include "absl/strings/str_cat.h"
#include "agent/handlers/all_handlers.h"
#include "agent/handlers/esi_json.h"

namespace sluice::agent {
namespace {

class AllianceCorporationsHandler final : public Handler {
 public:
  explicit AllianceCorporationsHandler(const HandlerConfig& config) : base_(config.esi_base_url) {}

  UpstreamRequest BuildRequest(const sluice::v1::Task& task) const override {
    return {esi::JoinUrl(base_, absl::StrCat("/alliances/", task.entity_id(), "/corporations/")),
            {}};
  }

  absl::StatusOr<HandlerResult> Parse(const sluice::v1::Task& task,
                                      const HttpResponse& response) const override {
    auto ids =
        esi::ParseIdArray(response.body, absl::StrCat("alliance_corporations ", task.entity_id()));
    if (!ids.ok()) return ids.status();
    HandlerResult result;
    esi::AddDiscovered(&result, "corporation", *ids, /*force=*/true);
    return result;
  }

 private:
  const std::string base_;
};

}  // namespace

void RegisterAllianceCorporationsHandler(HandlerRegistry& registry) {
  registry.Register(HandlerSpec{
      "alliance_corporations",
      {"esi", "/alliances/{id}/corporations/"},
      nullptr,
      [](const HandlerConfig& c) { return std::make_unique<AllianceCorporationsHandler>(c); }});
}

}  // namespace sluice::agent
