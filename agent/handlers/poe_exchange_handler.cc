// poe_exchange_stream: GET /currency-exchange[/<realm>]/<hour> -> the markets
// traded in that hour (PoeExchangePage). The hour (a unix time) is the
// stream's cursor, from the task's context; next_change_id is the next hour,
// or the same hour while it is not published. The coordinator decides what
// the answer means for the cursor and the gap audit.
#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/handlers/all_handlers.h"
#include "agent/handlers/esi_json.h"
#include "agent/handlers/poe_request_headers.h"
#include "sluice/v1/poe.pb.h"

namespace sluice::agent {
namespace {

// PoE's ids are JSON numbers; accept their decimal string form as well.
bool ReadHour(const nlohmann::json& value, int64_t* out) {
  if (value.is_number_integer()) {
    *out = value.get<int64_t>();
    return true;
  }
  return value.is_string() && absl::SimpleAtoi(value.get<std::string>(), out);
}

class PoeExchangeHandler final : public Handler {
 public:
  explicit PoeExchangeHandler(const HandlerConfig& config)
      : base_(config.poe_base_url), contact_(config.contact) {}

  // A page holds the cursor to the next one: a stream cannot skip it.
  bool skips_poison() const override { return false; }

  UpstreamRequest BuildRequest(const sluice::v1::Task& task) const override {
    // A context that is missing or of the wrong type asks for no hour here
    // and fails in Parse, where an error can be returned.
    sluice::v1::PoeStreamContext context =
        UnpackContext<sluice::v1::PoeStreamContext>(task, "poe_exchange_stream",
                                                    /*required=*/false)
            .value_or(sluice::v1::PoeStreamContext());
    std::string path = "/currency-exchange";
    if (!context.realm().empty() && context.realm() != "pc") {
      absl::StrAppend(&path, "/", context.realm());
    }
    int64_t hour = 0;
    // A cursor that is not a number would be a coordinator bug; ask for the
    // first hour of history, whose answer the coordinator will refuse.
    if (absl::SimpleAtoi(context.cursor(), &hour)) absl::StrAppend(&path, "/", hour);
    return {esi::JoinUrl(base_, path), PoeRequestHeaders(context, contact_)};
  }

  absl::StatusOr<HandlerResult> Parse(const sluice::v1::Task& task,
                                      const HttpResponse& response) const override {
    auto unpacked = UnpackContext<sluice::v1::PoeStreamContext>(task, "currency exchange hour",
                                                                /*required=*/false);
    if (!unpacked.ok()) return unpacked.status();
    const sluice::v1::PoeStreamContext& context = *unpacked;
    const std::string what = absl::StrCat("currency exchange hour '", context.cursor(), "'");
    int64_t start = 0;
    if (!absl::SimpleAtoi(context.cursor(), &start)) {  // also a task without context
      return absl::InvalidArgumentError(what + ": the task carries no hour cursor");
    }
    auto body = esi::ParseObject(response.body, what);
    if (!body.ok()) return body.status();
    int64_t next = 0;
    auto next_it = body->find("next_change_id");
    if (next_it == body->end() || !ReadHour(*next_it, &next)) {
      return absl::InvalidArgumentError(what +
                                        ": field 'next_change_id' is missing or not a number");
    }
    auto markets = body->find("markets");
    if (markets == body->end() || !markets->is_array()) {
      return absl::InvalidArgumentError(what + ": field 'markets' is missing or not an array");
    }
    sluice::v1::PoeExchangePage page;
    page.set_start_hour(start);
    page.set_next_hour(next);
    for (size_t i = 0; i < markets->size(); ++i) {
      const nlohmann::json& m = (*markets)[i];
      const std::string field = absl::StrCat(what, ": markets[", i, "]");
      if (!m.is_object()) return absl::InvalidArgumentError(field + " is not an object");
      auto league = m.find("league");
      auto market_id = m.find("market_id");
      auto volume = m.find("volume_traded");
      if (league == m.end() || !league->is_string() || market_id == m.end() ||
          !market_id->is_string()) {
        return absl::InvalidArgumentError(field + ": 'league' and 'market_id' must be strings");
      }
      if (volume == m.end() || !volume->is_object()) {
        return absl::InvalidArgumentError(field +
                                          ": field 'volume_traded' is missing or not an object");
      }
      sluice::v1::PoeExchangeMarket* out = page.add_markets();
      out->set_league(league->get<std::string>());
      out->set_market_id(market_id->get<std::string>());
      out->set_volume_traded_json(volume->dump());
      std::string* optional[] = {
          out->mutable_lowest_stock_json(), out->mutable_highest_stock_json(),
          out->mutable_lowest_ratio_json(), out->mutable_highest_ratio_json()};
      const char* names[] = {"lowest_stock", "highest_stock", "lowest_ratio", "highest_ratio"};
      for (int k = 0; k < 4; ++k) {
        auto it = m.find(names[k]);
        if (it == m.end() || it->is_null()) continue;
        if (!it->is_object()) {
          return absl::InvalidArgumentError(
              absl::StrCat(field, ": field '", names[k], "' is not an object"));
        }
        *optional[k] = it->dump();
      }
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

void RegisterPoeExchangeHandler(HandlerRegistry& registry) {
  registry.Register(
      HandlerSpec{"poe_exchange_stream",
                  {"poe", "/currency-exchange/{id}"},
                  nullptr,
                  [](const HandlerConfig& c) { return std::make_unique<PoeExchangeHandler>(c); }});
}

}  // namespace sluice::agent
