// contracts_region: every page of GET /contracts/public/{region_id}/?page=N
// (X-Pages says how many), each sent with the page's stored ETag
// (Task.context, ContractRegionContext) so unchanged pages answer 304.
// Every page must carry page 1's Last-Modified (agent/handlers/esi_pages.h).
// A contract the agent cannot parse is skipped and reported with its id and
// the reason; the rest of the region goes on (seed 004's poison pill). The
// coordinator drops the region's contracts no longer listed, so the task
// completes only when every page was read.
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/handlers/all_handlers.h"
#include "agent/handlers/esi_json.h"
#include "agent/handlers/esi_pages.h"
#include "agent/http/header_map.h"
#include "common/time_util.h"
#include "sluice/v1/contracts.pb.h"

namespace sluice::agent {
namespace {

using nlohmann::json;

constexpr int kMaxPages = 1000;  // a runaway X-Pages must not loop for ever

bool Present(const json& o, const char* field) {
  auto it = o.find(field);
  return it != o.end() && !it->is_null();
}

// One contract of a page; an error says what was wrong with it.
absl::StatusOr<v1::PublicContract> ParseContract(const json& o, const std::string& what) {
  if (!o.is_object()) return absl::InvalidArgumentError(what + ": not a JSON object");
  esi::FieldReader f(o, what);
  v1::PublicContract c;
  c.set_contract_id(f.RequiredInt("contract_id"));
  c.set_type(f.RequiredString("type"));
  c.set_issuer_id(f.RequiredInt("issuer_id"));
  c.set_issuer_corporation_id(f.RequiredInt("issuer_corporation_id"));
  *c.mutable_date_issued() = f.RequiredTime("date_issued");
  *c.mutable_date_expired() = f.RequiredTime("date_expired");
  if (Present(o, "price")) c.set_price(f.RequiredDouble("price"));
  if (Present(o, "reward")) c.set_reward(f.RequiredDouble("reward"));
  if (Present(o, "collateral")) c.set_collateral(f.RequiredDouble("collateral"));
  if (Present(o, "buyout")) c.set_buyout(f.RequiredDouble("buyout"));
  if (Present(o, "volume")) c.set_volume(f.RequiredDouble("volume"));
  if (Present(o, "days_to_complete")) {
    c.set_days_to_complete(static_cast<int32_t>(f.RequiredInt("days_to_complete")));
  }
  if (Present(o, "start_location_id")) c.set_start_location_id(f.RequiredInt("start_location_id"));
  if (Present(o, "end_location_id")) c.set_end_location_id(f.RequiredInt("end_location_id"));
  if (Present(o, "title")) c.set_title(f.RequiredString("title"));
  if (!f.status().ok()) return f.status();
  if (Present(o, "for_corporation")) {
    if (!o["for_corporation"].is_boolean()) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": field 'for_corporation' is ",
                                                     o["for_corporation"].type_name(),
                                                     ", expected a boolean"));
    }
    c.set_for_corporation(o["for_corporation"].get<bool>());
  }
  if (c.contract_id() <= 0) {
    return absl::InvalidArgumentError(what + ": field 'contract_id' is not positive");
  }
  const std::string& t = c.type();
  if (t != "item_exchange" && t != "auction" && t != "courier" && t != "unknown") {
    return absl::InvalidArgumentError(absl::StrCat(what, ": field 'type' is '", t,
                                                   "', expected item_exchange, auction, "
                                                   "courier or unknown"));
  }
  return c;
}

class ContractsRegionHandler final : public MultiRequestHandler {
 public:
  explicit ContractsRegionHandler(const HandlerConfig& config) : base_(config.esi_base_url) {}

  absl::StatusOr<HandlerResult> Run(const v1::Task& task, Fetcher& fetcher) const override {
    const int64_t region = task.entity_id();
    // No context: no page has an ETag yet.
    auto context = UnpackContext<v1::ContractRegionContext>(
        task, absl::StrCat("contracts_region ", region), /*required=*/false);
    if (!context.ok()) return context.status();
    std::map<int, std::string> etags;
    for (const auto& p : context->pages()) etags[p.page()] = p.etag();
    const std::string what = absl::StrCat("contracts_region ", region);
    return esi::ReadPagesConsistently<HandlerResult>(
        what, [&](esi::PageVersion& version) { return ReadOnce(region, etags, fetcher, version); });
  }

 private:
  // One read of every page from page 1, each answer checked against page
  // 1's Last-Modified.
  absl::StatusOr<HandlerResult> ReadOnce(int64_t region, const std::map<int, std::string>& etags,
                                         Fetcher& fetcher, esi::PageVersion& version) const {
    v1::ContractRegionResult out;
    int pages = 1;
    for (int page = 1; page <= pages; ++page) {
      UpstreamRequest request{
          esi::JoinUrl(base_, absl::StrCat("/contracts/public/", region, "/?page=", page)), {}};
      auto known = etags.find(page);
      if (known != etags.end()) request.headers.emplace_back("If-None-Match", known->second);
      absl::StatusOr<HttpResponse> response = fetcher.Fetch(request);
      if (!response.ok()) return response.status();
      const std::string what = absl::StrCat("contracts_region ", region, " page ", page);
      if (response->status != 304 && (response->status < 200 || response->status >= 300)) {
        HandlerResult stopped;
        stopped.stopped_by = *response;
        return stopped;
      }
      if (absl::Status same = version.Check(page, *response); !same.ok()) return same;
      if (page == 1) {
        std::string x_pages = response->headers.GetOr("X-Pages", "1");
        if (!absl::SimpleAtoi(x_pages, &pages) || pages < 1 || pages > kMaxPages) {
          return absl::InvalidArgumentError(absl::StrCat(what, ": header X-Pages '", x_pages,
                                                         "' is not a page count in [1, ", kMaxPages,
                                                         "]"));
        }
        out.set_pages_total(pages);
      }
      v1::ContractPageResult* result = out.add_pages();
      result->set_page(page);
      if (auto expires = response->headers.GetDate("Expires"))
        *result->mutable_expires() = ToProto(*expires);
      if (response->status == 304) {
        result->set_not_modified(true);
        result->set_etag(
            UsableEtag(response->headers.GetOr("ETag", known != etags.end() ? known->second : "")));
        continue;
      }
      result->set_etag(UsableEtag(response->headers.GetOr("ETag")));
      json body = json::array();
      if (!response->body.empty()) {
        auto parsed = esi::ParseJson(response->body, what);
        if (!parsed.ok()) return parsed.status();
        body = std::move(*parsed);
      }
      if (!body.is_array()) {
        return absl::InvalidArgumentError(
            absl::StrCat(what, ": body is ", body.type_name(), ", expected an array"));
      }
      for (size_t i = 0; i < body.size(); ++i) {
        const json& item = body[i];
        int64_t id = 0;
        if (item.is_object() && item.contains("contract_id") &&
            item["contract_id"].is_number_integer()) {
          id = item["contract_id"].get<int64_t>();
        }
        const std::string label =
            id > 0 ? absl::StrCat("contract ", id) : absl::StrCat(what, " entry ", i);
        absl::StatusOr<v1::PublicContract> c = ParseContract(item, label);
        if (id > 0) result->add_contract_ids(id);
        if (!c.ok()) {
          v1::SkippedContract* s = out.add_skipped();
          s->set_contract_id(id);
          s->set_page(page);
          s->set_reason(std::string(c.status().message()));
          continue;
        }
        *out.add_contracts() = std::move(*c);
      }
    }
    HandlerResult result;
    SetPayload(result, out);
    return result;
  }

  const std::string base_;
};

}  // namespace

void RegisterContractsRegionHandler(HandlerRegistry& registry) {
  registry.Register(HandlerSpec{
      "contracts_region",
      {"esi", "/contracts/public/{region_id}/"},
      nullptr,
      [](const HandlerConfig& c) { return std::make_unique<ContractsRegionHandler>(c); }});
}

}  // namespace sluice::agent
