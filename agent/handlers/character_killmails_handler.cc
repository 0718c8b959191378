// character_killmails: GET /characters/{id}/killmails/recent/?page=N with the
// character's token (from the lease's CharacterKillmailsContext), newest
// first, paged by X-Pages. Seed 003's incremental sync: the read stops at the
// page where the last synced killmail id appears (the refs before it are the
// new ones); if it never appears, or there is none, every page is read (a
// full read, at most kMaxPages). Every page must carry page 1's Last-Modified
// (agent/handlers/esi_pages.h). The coordinator stores the refs and the new
// checkpoint in one transaction and queues each unknown body once.
#include <algorithm>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/handlers/all_handlers.h"
#include "agent/handlers/esi_json.h"
#include "agent/handlers/esi_pages.h"
#include "sluice/v1/killmails.pb.h"

namespace sluice::agent {
namespace {

// ESI keeps a character's recent killmails in at most 50 pages of 50.
constexpr int kMaxPages = 50;

class CharacterKillmailsHandler final : public MultiRequestHandler {
 public:
  explicit CharacterKillmailsHandler(const HandlerConfig& config) : base_(config.esi_base_url) {}

  absl::StatusOr<HandlerResult> Run(const sluice::v1::Task& task, Fetcher& fetcher) const override {
    const std::string what = absl::StrCat("character_killmails ", task.entity_id());
    auto context = UnpackContext<sluice::v1::CharacterKillmailsContext>(task, what);
    if (!context.ok()) return context.status();
    const sluice::v1::CharacterKillmailsContext& ctx = *context;
    if (ctx.access_token().empty()) {
      // Never sent upstream: an unauthenticated call would only spend the
      // error budget. Reported like the upstream's own 401, so the
      // coordinator retries a few times (a token may be registered
      // meanwhile) and then dead-letters it with this reason.
      HandlerResult stopped;
      HttpResponse r;
      r.status = 401;
      r.body =
          ctx.token_problem().empty() ? "no access token for this character" : ctx.token_problem();
      stopped.stopped_by = std::move(r);
      return stopped;
    }
    const std::string path = absl::StrCat("/characters/", task.entity_id(), "/killmails/recent/");
    const RequestHeaders headers = {{"Authorization", "Bearer " + ctx.access_token()}};
    const int64_t last = ctx.last_killmail_id();
    return esi::ReadPagesConsistently<HandlerResult>(what, [&](esi::PageVersion& version) {
      return ReadOnce(what, path, headers, last, fetcher, version);
    });
  }

 private:
  // One read of the list from page 1, every answer checked against page 1's
  // Last-Modified.
  absl::StatusOr<HandlerResult> ReadOnce(const std::string& what, const std::string& path,
                                         const RequestHeaders& headers, int64_t last,
                                         Fetcher& fetcher, esi::PageVersion& version) const {
    sluice::v1::CharacterKillmailsResult result;
    std::set<int64_t> seen;
    bool found = false;
    int pages_total = 1;
    int page = 1;
    for (; page <= kMaxPages; ++page) {
      auto response =
          fetcher.Fetch({esi::JoinUrl(base_, absl::StrCat(path, "?page=", page)), headers});
      if (!response.ok()) return response.status();
      if (response->status < 200 || response->status >= 300) {
        HandlerResult stopped;
        stopped.stopped_by = std::move(*response);
        return stopped;
      }
      if (absl::Status same = version.Check(page, *response); !same.ok()) return same;
      if (auto pages = response->headers.Get("X-Pages")) {
        int n = 0;
        if (!absl::SimpleAtoi(*pages, &n) || n < 1) {
          return absl::InvalidArgumentError(
              absl::StrCat(what, ": header X-Pages '", *pages, "' is not a positive integer"));
        }
        pages_total = n;
      }
      const std::string page_what = absl::StrCat(what, " page ", page);
      auto body = esi::ParseJson(response->body, page_what);
      if (!body.ok()) return body.status();
      if (!body->is_array()) return absl::InvalidArgumentError(page_what + ": not a JSON array");
      for (size_t i = 0; i < body->size() && !found; ++i) {
        const std::string ref_what = absl::StrCat(page_what, " [", i, "]");
        if (!(*body)[i].is_object())
          return absl::InvalidArgumentError(ref_what + ": not an object");
        esi::FieldReader f((*body)[i], ref_what);
        const int64_t id = f.RequiredInt("killmail_id");
        const std::string hash = f.RequiredString("killmail_hash");
        if (!f.status().ok()) return f.status();
        if (last > 0 && id == last) {
          found = true;  // everything from here on is already stored
          break;
        }
        if (!seen.insert(id).second) continue;  // never the same killmail twice
        sluice::v1::KillmailRef* ref = result.add_refs();
        ref->set_killmail_id(id);
        ref->set_killmail_hash(hash);
      }
      if (found || page >= pages_total) break;
    }
    result.set_pages_fetched(std::min(page, kMaxPages));
    result.set_pages_total(pages_total);
    result.set_full_read(!found);
    HandlerResult out;
    SetPayload(out, result);
    return out;
  }

  const std::string base_;
};

}  // namespace

void RegisterCharacterKillmailsHandler(HandlerRegistry& registry) {
  registry.Register(HandlerSpec{
      "character_killmails",
      {"esi", "/characters/{id}/killmails/recent/"},
      nullptr,
      [](const HandlerConfig& c) { return std::make_unique<CharacterKillmailsHandler>(c); },
      Billing::kTaskCaller});
}

}  // namespace sluice::agent
