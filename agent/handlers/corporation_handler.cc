// corporation: GET /corporations/{id}/ -> CorporationRecord. Discovers the CEO
// and creator (player characters only), the alliance, and, when this agent
// holds an ESI token, the member list (an authenticated route).
#include "absl/strings/str_cat.h"
#include "agent/handlers/all_handlers.h"
#include "agent/handlers/esi_json.h"

namespace sluice::agent {
namespace {

class CorporationHandler final : public Handler {
 public:
  explicit CorporationHandler(const HandlerConfig& config)
      : base_(config.esi_base_url), has_token_(!config.esi_token.empty()) {}

  UpstreamRequest BuildRequest(const sluice::v1::Task& task) const override {
    return {esi::JoinUrl(base_, absl::StrCat("/corporations/", task.entity_id(), "/")), {}};
  }

  absl::StatusOr<HandlerResult> Parse(const sluice::v1::Task& task,
                                      const HttpResponse& response) const override {
    const std::string what = absl::StrCat("corporation ", task.entity_id());
    auto body = esi::ParseObject(response.body, what);
    if (!body.ok()) return body.status();
    esi::FieldReader f(*body, what);
    sluice::v1::EntityRecord record;
    sluice::v1::CorporationRecord* c = record.mutable_corporation();
    c->set_corporation_id(task.entity_id());
    c->set_name(f.RequiredString("name"));
    c->set_ticker(f.RequiredString("ticker"));
    c->set_member_count(f.RequiredInt("member_count"));
    c->set_ceo_id(f.RequiredInt("ceo_id"));
    c->set_creator_id(f.RequiredInt("creator_id"));
    c->set_tax_rate(f.RequiredDouble("tax_rate"));
    c->set_alliance_id(f.OptionalInt("alliance_id"));
    // NPC corporations have no founding date in ESI.
    if (auto founded = f.OptionalTime("date_founded")) *c->mutable_date_founded() = *founded;
    c->set_faction_id(f.OptionalInt("faction_id"));
    if (!f.status().ok()) return f.status();

    HandlerResult result;
    esi::AddDiscovered(&result, "character",
                       esi::PlayerCharacterIds({c->ceo_id(), c->creator_id()}), /*force=*/false);
    esi::AddDiscovered(&result, "alliance", {c->alliance_id()}, /*force=*/false);
    if (has_token_) {
      esi::AddDiscovered(&result, "corporation_members", {task.entity_id()}, /*force=*/true);
    }
    result.records.push_back(std::move(record));
    return result;
  }

 private:
  const std::string base_;
  const bool has_token_;
};

}  // namespace

void RegisterCorporationHandler(HandlerRegistry& registry) {
  registry.Register(HandlerSpec{
      "corporation", {"esi", "/corporations/{id}/"}, nullptr, [](const HandlerConfig& c) {
        return std::make_unique<CorporationHandler>(c);
      }});
}

}  // namespace sluice::agent
