// poe_stash_stream: GET /public-stash-tabs[/<realm>]?id=<cursor> -> one page
// of PoE's public stash stream (PoeStashPage). The cursor comes from the
// task's context (PoeStreamContext), which the coordinator fills from its
// checkpoint; the page goes back with the cursor it was fetched with, so the
// coordinator can refuse it if the stream has moved on. The handler does not
// interpret the page (empty pages, rewinds): the coordinator owns the cursor.
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "agent/handlers/all_handlers.h"
#include "agent/handlers/esi_json.h"
#include "agent/handlers/poe_request_headers.h"
#include "sluice/v1/poe.pb.h"

namespace sluice::agent {
namespace {

// PoE sends null for many optional strings; both read as "".
std::string OptionalString(const nlohmann::json& object, const char* field) {
  auto it = object.find(field);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

class PoeStashHandler final : public Handler {
 public:
  explicit PoeStashHandler(const HandlerConfig& config)
      : base_(config.poe_base_url), contact_(config.contact) {}

  // A page holds the cursor to the next one: a stream cannot skip it.
  bool skips_poison() const override { return false; }

  UpstreamRequest BuildRequest(const sluice::v1::Task& task) const override {
    // Without a context this asks for the stream's start; a context of the
    // wrong type fails in Parse, where an error can be returned.
    sluice::v1::PoeStreamContext context =
        UnpackContext<sluice::v1::PoeStreamContext>(task, "poe_stash_stream", /*required=*/false)
            .value_or(sluice::v1::PoeStreamContext());
    std::string path = "/public-stash-tabs";
    if (!context.realm().empty() && context.realm() != "pc") {
      absl::StrAppend(&path, "/", context.realm());
    }
    // Change ids are digits and dashes: nothing to escape.
    if (!context.cursor().empty()) absl::StrAppend(&path, "?id=", context.cursor());
    return {esi::JoinUrl(base_, path), PoeRequestHeaders(context, contact_)};
  }

  absl::StatusOr<HandlerResult> Parse(const sluice::v1::Task& task,
                                      const HttpResponse& response) const override {
    auto unpacked = UnpackContext<sluice::v1::PoeStreamContext>(task, "public stash page",
                                                                /*required=*/false);
    if (!unpacked.ok()) return unpacked.status();
    const sluice::v1::PoeStreamContext& context = *unpacked;
    const std::string what = absl::StrCat("public stash page at '", context.cursor(), "'");
    if (context.stream().empty()) {  // also a task without context
      return absl::InvalidArgumentError(what + ": the task carries no stream context");
    }
    auto body = esi::ParseObject(response.body, what);
    if (!body.ok()) return body.status();
    auto next = body->find("next_change_id");
    if (next == body->end() || !next->is_string()) {
      return absl::InvalidArgumentError(what +
                                        ": field 'next_change_id' is missing or not a string");
    }
    auto stashes = body->find("stashes");
    if (stashes == body->end() || !stashes->is_array()) {
      return absl::InvalidArgumentError(what + ": field 'stashes' is missing or not an array");
    }
    sluice::v1::PoeStashPage page;
    page.set_start_cursor(context.cursor());
    page.set_next_change_id(next->get<std::string>());
    for (size_t i = 0; i < stashes->size(); ++i) {
      const nlohmann::json& s = (*stashes)[i];
      const std::string field = absl::StrCat(what, ": stashes[", i, "]");
      if (!s.is_object()) return absl::InvalidArgumentError(field + " is not an object");
      auto id = s.find("id");
      if (id == s.end() || !id->is_string() || id->get<std::string>().empty()) {
        return absl::InvalidArgumentError(field + ": field 'id' is missing or not a string");
      }
      auto is_public = s.find("public");
      if (is_public != s.end() && !is_public->is_boolean() && !is_public->is_null()) {
        return absl::InvalidArgumentError(field + ": field 'public' is not a boolean");
      }
      auto items = s.find("items");
      if (items != s.end() && !items->is_array() && !items->is_null()) {
        return absl::InvalidArgumentError(field + ": field 'items' is not an array");
      }
      sluice::v1::PoeStash* stash = page.add_stashes();
      stash->set_id(id->get<std::string>());
      stash->set_public_(is_public != s.end() && is_public->is_boolean() && is_public->get<bool>());
      stash->set_account_name(OptionalString(s, "accountName"));
      stash->set_stash_name(OptionalString(s, "stash"));
      stash->set_stash_type(OptionalString(s, "stashType"));
      stash->set_league(OptionalString(s, "league"));
      stash->set_items_json(items != s.end() && items->is_array() ? items->dump() : "[]");
    }
    HandlerResult result;
    SetPayload(result, page);
    return result;
  }

 private:
  const std::string base_;
  const std::string contact_;
};

}  // namespace

void RegisterPoeStashHandler(HandlerRegistry& registry) {
  registry.Register(HandlerSpec{
      "poe_stash_stream", {"poe", "/public-stash-tabs"}, nullptr, [](const HandlerConfig& c) {
        return std::make_unique<PoeStashHandler>(c);
      }});
}

}  // namespace sluice::agent
