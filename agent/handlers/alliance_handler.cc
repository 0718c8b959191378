// alliance: GET /alliances/{id}/ -> AllianceRecord; the executor corporation
// is discovered (queued only if missing or stale).
#include "absl/strings/str_cat.h"
#include "agent/handlers/all_handlers.h"
#include "agent/handlers/esi_json.h"

namespace sluice::agent {
namespace {

class AllianceHandler final : public Handler {
 public:
  explicit AllianceHandler(const HandlerConfig& config) : base_(config.esi_base_url) {}

  UpstreamRequest BuildRequest(const sluice::v1::Task& task) const override {
    return {esi::JoinUrl(base_, absl::StrCat("/alliances/", task.entity_id(), "/")), {}};
  }

  absl::StatusOr<HandlerResult> Parse(const sluice::v1::Task& task,
                                      const HttpResponse& response) const override {
    const std::string what = absl::StrCat("alliance ", task.entity_id());
    auto body = esi::ParseObject(response.body, what);
    if (!body.ok()) return body.status();
    esi::FieldReader f(*body, what);
    sluice::v1::EntityRecord record;
    sluice::v1::AllianceRecord* a = record.mutable_alliance();
    a->set_alliance_id(task.entity_id());
    a->set_name(f.RequiredString("name"));
    a->set_ticker(f.RequiredString("ticker"));
    a->set_creator_id(f.RequiredInt("creator_id"));
    a->set_creator_corporation_id(f.RequiredInt("creator_corporation_id"));
    *a->mutable_date_founded() = f.RequiredTime("date_founded");
    // Closed alliances have no executor; ESI omits the field.
    a->set_executor_corporation_id(f.OptionalInt("executor_corporation_id"));
    a->set_faction_id(f.OptionalInt("faction_id"));
    if (!f.status().ok()) return f.status();

    HandlerResult result;
    esi::AddDiscovered(&result, "corporation", {a->executor_corporation_id()}, /*force=*/false);
    result.records.push_back(std::move(record));
    return result;
  }

 private:
  const std::string base_;
};

}  // namespace

void RegisterAllianceHandler(HandlerRegistry& registry) {
  registry.Register(
      HandlerSpec{"alliance", {"esi", "/alliances/{id}/"}, nullptr, [](const HandlerConfig& c) {
                    return std::make_unique<AllianceHandler>(c);
                  }});
}

}  // namespace sluice::agent
