// corporation_members: GET /corporations/{id}/members/ (needs an ESI SSO
// token) lists member character ids. Only enabled for agents that hold a
// token, so the coordinator never hands this kind to an agent that cannot
// serve it.
#include "absl/strings/str_cat.h"
#include "agent/handlers/all_handlers.h"
#include "agent/handlers/esi_json.h"

namespace sluice::agent {
namespace {

class CorporationMembersHandler final : public Handler {
 public:
  explicit CorporationMembersHandler(const HandlerConfig& config)
      : base_(config.esi_base_url), authorization_("Bearer " + config.esi_token) {}

  UpstreamRequest BuildRequest(const sluice::v1::Task& task) const override {
    return {esi::JoinUrl(base_, absl::StrCat("/corporations/", task.entity_id(), "/members/")),
            {{"Authorization", authorization_}}};
  }

  absl::StatusOr<HandlerResult> Parse(const sluice::v1::Task& task,
                                      const HttpResponse& response) const override {
    auto ids =
        esi::ParseIdArray(response.body, absl::StrCat("corporation_members ", task.entity_id()));
    if (!ids.ok()) return ids.status();
    HandlerResult result;
    esi::AddDiscovered(&result, "character", *ids, /*force=*/false);
    return result;
  }

 private:
  const std::string base_;
  const std::string authorization_;
};

}  // namespace

void RegisterCorporationMembersHandler(HandlerRegistry& registry) {
  registry.Register(HandlerSpec{
      "corporation_members",
      {"esi", "/corporations/{id}/members/"},
      [](const HandlerConfig& c) { return !c.esi_token.empty(); },
      [](const HandlerConfig& c) { return std::make_unique<CorporationMembersHandler>(c); },
      Billing::kAgentToken});
}

}  // namespace sluice::agent
