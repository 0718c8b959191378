// killmail: GET /killmails/{id}/{hash}/ (public) -> KillmailResult: time,
// system, the victim and the attackers, and the body as is. The hash comes
// from the lease's KillmailContext (learned from a character's list). The
// coordinator stores the body and participants and queues the characters,
// corporations, alliances and ship types it does not have yet.
#include "absl/strings/str_cat.h"
#include "agent/handlers/all_handlers.h"
#include "agent/handlers/esi_json.h"
#include "sluice/v1/killmails.pb.h"

namespace sluice::agent {
namespace {

absl::Status ReadParticipant(const nlohmann::json& object, const std::string& what, bool victim,
                             sluice::v1::KillmailParticipant* p) {
  if (!object.is_object()) return absl::InvalidArgumentError(what + ": not an object");
  esi::FieldReader f(object, what);
  p->set_character_id(f.OptionalInt("character_id"));
  p->set_corporation_id(f.OptionalInt("corporation_id"));
  p->set_alliance_id(f.OptionalInt("alliance_id"));
  p->set_is_victim(victim);
  if (victim) {
    p->set_ship_type_id(f.RequiredInt("ship_type_id"));
    p->set_damage(f.OptionalInt("damage_taken"));
  } else {
    p->set_ship_type_id(f.OptionalInt("ship_type_id"));
    p->set_damage(f.OptionalInt("damage_done"));
    auto fb = object.find("final_blow");
    if (fb != object.end() && !fb->is_boolean()) {
      return absl::InvalidArgumentError(what + ": field 'final_blow' is not a boolean");
    }
    p->set_final_blow(fb != object.end() && fb->get<bool>());
  }
  return f.status();
}

class KillmailHandler final : public MultiRequestHandler {
 public:
  explicit KillmailHandler(const HandlerConfig& config) : base_(config.esi_base_url) {}

  absl::StatusOr<HandlerResult> Run(const sluice::v1::Task& task, Fetcher& fetcher) const override {
    const std::string what = absl::StrCat("killmail ", task.entity_id());
    auto context = UnpackContext<sluice::v1::KillmailContext>(task, what);
    if (!context.ok()) return context.status();
    const sluice::v1::KillmailContext& ctx = *context;
    if (ctx.killmail_hash().empty()) {
      // Without the hash the body cannot be addressed; asking again will not
      // help, so this ends like the upstream's 404.
      HandlerResult stopped;
      HttpResponse r;
      r.status = 404;
      r.body =
          "no killmail_hash known for this killmail (hashes are learned from a "
          "character's killmail list)";
      stopped.stopped_by = std::move(r);
      return stopped;
    }
    auto response = fetcher.Fetch({esi::JoinUrl(base_, absl::StrCat("/killmails/", task.entity_id(),
                                                                    "/", ctx.killmail_hash(), "/")),
                                   {}});
    if (!response.ok()) return response.status();
    if (response->status < 200 || response->status >= 300) {
      HandlerResult stopped;
      stopped.stopped_by = std::move(*response);
      return stopped;
    }
    auto body = esi::ParseObject(response->body, what);
    if (!body.ok()) return body.status();
    sluice::v1::KillmailResult km;
    esi::FieldReader f(*body, what);
    km.set_killmail_id(f.RequiredInt("killmail_id"));
    *km.mutable_killmail_time() = f.RequiredTime("killmail_time");
    km.set_solar_system_id(f.RequiredInt("solar_system_id"));
    if (!f.status().ok()) return f.status();
    if (km.killmail_id() != task.entity_id()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": body is killmail ", km.killmail_id()));
    }
    auto victim = body->find("victim");
    if (victim == body->end()) {
      return absl::InvalidArgumentError(what + ": field 'victim' is missing");
    }
    absl::Status s = ReadParticipant(*victim, what + " victim", true, km.add_participants());
    if (!s.ok()) return s;
    auto attackers = body->find("attackers");
    if (attackers == body->end() || !attackers->is_array()) {
      return absl::InvalidArgumentError(what + ": field 'attackers' is missing or not an array");
    }
    for (size_t i = 0; i < attackers->size(); ++i) {
      s = ReadParticipant((*attackers)[i], absl::StrCat(what, " attackers[", i, "]"), false,
                          km.add_participants());
      if (!s.ok()) return s;
    }
    km.set_body_json(response->body);
    HandlerResult out;
    SetPayload(out, km);
    return out;
  }

 private:
  const std::string base_;
};

}  // namespace

void RegisterKillmailHandler(HandlerRegistry& registry) {
  registry.Register(
      HandlerSpec{"killmail",
                  {"esi", "/killmails/{killmail_id}/{killmail_hash}/"},
                  nullptr,
                  [](const HandlerConfig& c) { return std::make_unique<KillmailHandler>(c); }});
}

}  // namespace sluice::agent
