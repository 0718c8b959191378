// universe_type: GET /universe/types/{type_id}/ -> UniverseTypeRecord, the
// type cache's row (group_id decides whether an item is a ship). Discovered
// by contract items and killmails; refreshed by the contract aggregation job
// once a type is 30 days old. A 304 only confirms the cached row.
#include "absl/strings/str_cat.h"
#include "agent/handlers/all_handlers.h"
#include "agent/handlers/esi_json.h"
#include "sluice/v1/contracts.pb.h"

namespace sluice::agent {
namespace {

class UniverseTypeHandler final : public Handler {
 public:
  explicit UniverseTypeHandler(const HandlerConfig& config) : base_(config.esi_base_url) {}

  UpstreamRequest BuildRequest(const v1::Task& task) const override {
    return {esi::JoinUrl(base_, absl::StrCat("/universe/types/", task.entity_id(), "/")), {}};
  }

  absl::StatusOr<HandlerResult> Parse(const v1::Task& task,
                                      const HttpResponse& response) const override {
    const std::string what = absl::StrCat("universe_type ", task.entity_id());
    auto body = esi::ParseObject(response.body, what);
    if (!body.ok()) return body.status();
    esi::FieldReader f(*body, what);
    v1::UniverseTypeRecord t;
    t.set_type_id(task.entity_id());
    t.set_name(f.RequiredString("name"));
    t.set_group_id(f.RequiredInt("group_id"));
    auto present = [&](const char* field) {
      auto it = body->find(field);
      return it != body->end() && !it->is_null();
    };
    if (present("volume")) t.set_volume(f.RequiredDouble("volume"));
    if (present("packaged_volume")) t.set_packaged_volume(f.RequiredDouble("packaged_volume"));
    if (present("market_group_id")) t.set_market_group_id(f.RequiredInt("market_group_id"));
    if (!f.status().ok()) return f.status();
    if (!present("published") || !(*body)["published"].is_boolean()) {
      return absl::InvalidArgumentError(what + ": field 'published' is missing or not a boolean");
    }
    t.set_published((*body)["published"].get<bool>());
    if (present("type_id") && (*body)["type_id"] != task.entity_id()) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": field 'type_id' is ", (*body)["type_id"].dump(), ", expected the requested id"));
    }
    HandlerResult result;
    SetPayload(result, t);
    return result;
  }

 private:
  const std::string base_;
};

}  // namespace

void RegisterUniverseTypeHandler(HandlerRegistry& registry) {
  registry.Register(HandlerSpec{
      "universe_type", {"esi", "/universe/types/{type_id}/"}, nullptr, [](const HandlerConfig& c) {
        return std::make_unique<UniverseTypeHandler>(c);
      }});
}

}  // namespace sluice::agent
