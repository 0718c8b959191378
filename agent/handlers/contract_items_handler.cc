// contract_items: GET /contracts/public/items/{contract_id}/ -> the items of
// one public contract (ContractItemsResult). The coordinator stores them and
// classifies the contract (ship contract or not). A 304 (the core sends the
// stored ETag) changes nothing; a 404 means the contract is gone.
#include <tuple>

#include "absl/strings/str_cat.h"
#include "agent/handlers/all_handlers.h"
#include "agent/handlers/esi_json.h"
#include "sluice/v1/contracts.pb.h"

namespace sluice::agent {
namespace {

using nlohmann::json;

bool Present(const json& o, const char* field) {
  auto it = o.find(field);
  return it != o.end() && !it->is_null();
}

absl::Status RequireBool(const json& o, const char* field, bool required, bool* out,
                         const std::string& what) {
  if (!Present(o, field)) {
    if (required)
      return absl::InvalidArgumentError(absl::StrCat(what, ": field '", field, "' is missing"));
    *out = false;
    return absl::OkStatus();
  }
  if (!o[field].is_boolean()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": field '", field, "' is ",
                                                   o[field].type_name(), ", expected a boolean"));
  }
  *out = o[field].get<bool>();
  return absl::OkStatus();
}

class ContractItemsHandler final : public Handler {
 public:
  explicit ContractItemsHandler(const HandlerConfig& config) : base_(config.esi_base_url) {}

  UpstreamRequest BuildRequest(const v1::Task& task) const override {
    return {esi::JoinUrl(base_, absl::StrCat("/contracts/public/items/", task.entity_id(), "/")),
            {}};
  }

  absl::StatusOr<HandlerResult> Parse(const v1::Task& task,
                                      const HttpResponse& response) const override {
    const std::string what = absl::StrCat("contract_items ", task.entity_id());
    v1::ContractItemsResult out;
    if (!response.body.empty()) {  // 204: no items
      auto body = esi::ParseJson(response.body, what);
      if (!body.ok()) return body.status();
      if (!body->is_array()) {
        return absl::InvalidArgumentError(
            absl::StrCat(what, ": body is ", body->type_name(), ", expected an array"));
      }
      for (size_t i = 0; i < body->size(); ++i) {
        const json& o = (*body)[i];
        const std::string label = absl::StrCat(what, " item ", i);
        if (!o.is_object()) return absl::InvalidArgumentError(label + ": not a JSON object");
        esi::FieldReader f(o, label);
        v1::PublicContractItem* item = out.add_items();
        item->set_record_id(f.RequiredInt("record_id"));
        item->set_type_id(f.RequiredInt("type_id"));
        item->set_quantity(f.RequiredInt("quantity"));
        if (Present(o, "material_efficiency")) {
          item->set_material_efficiency(static_cast<int32_t>(f.RequiredInt("material_efficiency")));
        }
        if (Present(o, "time_efficiency")) {
          item->set_time_efficiency(static_cast<int32_t>(f.RequiredInt("time_efficiency")));
        }
        if (Present(o, "runs")) item->set_runs(static_cast<int32_t>(f.RequiredInt("runs")));
        if (Present(o, "item_id")) item->set_item_id(f.RequiredInt("item_id"));
        if (!f.status().ok()) return f.status();
        bool b = false;
        for (auto [field, required, setter] :
             {std::make_tuple("is_included", true, &v1::PublicContractItem::set_is_included),
              std::make_tuple("is_singleton", true, &v1::PublicContractItem::set_is_singleton),
              std::make_tuple("is_blueprint_copy", false,
                              &v1::PublicContractItem::set_is_blueprint_copy)}) {
          absl::Status s = RequireBool(o, field, required, &b, label);
          if (!s.ok()) return s;
          (item->*setter)(b);
        }
      }
    }
    HandlerResult result;
    SetPayload(result, out);
    return result;
  }

 private:
  const std::string base_;
};

}  // namespace

void RegisterContractItemsHandler(HandlerRegistry& registry) {
  registry.Register(HandlerSpec{
      "contract_items",
      {"esi", "/contracts/public/items/{contract_id}/"},
      nullptr,
      [](const HandlerConfig& c) { return std::make_unique<ContractItemsHandler>(c); }});
}

}  // namespace sluice::agent
