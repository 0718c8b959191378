// character: GET /characters/{id}/ -> CharacterRecord. Discovers the
// character's corporation and alliance: seed 001's "missing corporations
// found from characters" (the coordinator queues only missing or stale ids).
#include "absl/strings/str_cat.h"
#include "agent/handlers/all_handlers.h"
#include "agent/handlers/esi_json.h"

namespace sluice::agent {
namespace {

class CharacterHandler final : public Handler {
 public:
  explicit CharacterHandler(const HandlerConfig& config) : base_(config.esi_base_url) {}

  UpstreamRequest BuildRequest(const sluice::v1::Task& task) const override {
    return {esi::JoinUrl(base_, absl::StrCat("/characters/", task.entity_id(), "/")), {}};
  }

  absl::StatusOr<HandlerResult> Parse(const sluice::v1::Task& task,
                                      const HttpResponse& response) const override {
    const std::string what = absl::StrCat("character ", task.entity_id());
    auto body = esi::ParseObject(response.body, what);
    if (!body.ok()) return body.status();
    esi::FieldReader f(*body, what);
    sluice::v1::EntityRecord record;
    sluice::v1::CharacterRecord* c = record.mutable_character();
    c->set_character_id(task.entity_id());
    c->set_name(f.RequiredString("name"));
    *c->mutable_birthday() = f.RequiredTime("birthday");
    c->set_gender(f.RequiredString("gender"));
    c->set_race_id(f.RequiredInt("race_id"));
    c->set_bloodline_id(f.RequiredInt("bloodline_id"));
    c->set_corporation_id(f.RequiredInt("corporation_id"));
    c->set_alliance_id(f.OptionalInt("alliance_id"));
    c->set_security_status(f.OptionalDouble("security_status"));
    if (!f.status().ok()) return f.status();

    HandlerResult result;
    esi::AddDiscovered(&result, "corporation", {c->corporation_id()}, /*force=*/false);
    esi::AddDiscovered(&result, "alliance", {c->alliance_id()}, /*force=*/false);
    result.records.push_back(std::move(record));
    return result;
  }

 private:
  const std::string base_;
};

}  // namespace

void RegisterCharacterHandler(HandlerRegistry& registry) {
  registry.Register(
      HandlerSpec{"character", {"esi", "/characters/{id}/"}, nullptr, [](const HandlerConfig& c) {
                    return std::make_unique<CharacterHandler>(c);
                  }});
}

}  // namespace sluice::agent
