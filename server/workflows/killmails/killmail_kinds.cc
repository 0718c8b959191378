#include "server/workflows/killmails/killmail_kinds.h"

#include <algorithm>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"
#include "common/caller.h"
#include "common/text.h"
#include "common/time_util.h"
#include "server/queue/task_kinds.h"
#include "server/store/payload_codec.h"
#include "server/store/pg_pool.h"
#include "server/store/savepoint.h"
#include "server/workflows/killmails/killmail_sql.h"
#include "server/workflows/killmails/token_store.h"
#include "sluice/v1/killmails.pb.h"

namespace sluice {
namespace {

constexpr size_t kMaxHashLength = 128;
constexpr int kMaxRefs = 100000;

// What GET /characters/{character_id}/killmails/recent/ needs (ESI's
// OpenAPI document, its security requirement).
constexpr char kKillmailsScope[] = "esi-killmails.read_killmails.v1";

bool HasScope(const std::string& space_separated, const std::string& scope) {
  for (absl::string_view s : absl::StrSplit(space_separated, ' ', absl::SkipEmpty())) {
    if (s == scope) return true;
  }
  return false;
}

bool PrintableAscii(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char ch) { return ch > 0x20 && ch < 0x7f; });
}

// A character's token goes only into the lease context of that character's
// own task, opened from its sealed row for that lease alone.
class CharacterKillmailsExtension final : public TaskExtension {
 public:
  explicit CharacterKillmailsExtension(const SecretBox* box) : box_(box) {}
  std::string kind() const override { return kCharacterKillmailsKind; }

  absl::Status FillContext(pqxx::dbtransaction& txn, std::vector<LeasedTask*>& tasks,
                           TimePoint now) override {
    std::vector<int64_t> ids;
    for (const LeasedTask* t : tasks) ids.push_back(t->entity_id);
    struct Row {
      std::optional<std::string> sealed_hex;  // nullopt: a plain row from before 0016
      std::string key_id;
      bool valid;
      std::string expires;
      int64_t last;
      bool disabled;
      std::string disabled_reason;
      std::optional<std::string> scopes;  // space-separated; nullopt = unknown
    };
    std::map<int64_t, Row> rows;
    for (const auto& r :
         txn.exec_params(killmail_sql::kLeaseTokens, PgArray(ids), FormatRfc3339(now))) {
      Row row{std::nullopt, "", r[3].as<bool>(), r[4].c_str(), r[5].as<int64_t>(),
              std::string(r[6].c_str()) == "disabled", r[7].c_str(), std::nullopt};
      if (!r[8].is_null()) row.scopes = r[8].c_str();
      if (!r[1].is_null()) {
        row.sealed_hex = r[1].c_str();
        row.key_id = r[2].c_str();
      }
      rows[r[0].as<int64_t>()] = std::move(row);
    }
    for (LeasedTask* t : tasks) {
      v1::CharacterKillmailsContext ctx;
      auto it = rows.find(t->entity_id);
      const std::string character = std::to_string(t->entity_id);
      if (it == rows.end()) {
        // Not a claim failure: the agent fails this task with the reason,
        // and the rest of the claim goes on.
        ctx.set_token_problem("no access token stored for character " + character +
                              " (register one with `sluicectl tokens add`)");
      } else if (it->second.disabled) {
        ctx.set_last_killmail_id(it->second.last);
        ctx.set_token_problem("the token of character " + character +
                              " is disabled: " + it->second.disabled_reason +
                              " (add a new one with `sluicectl tokens add`)");
      } else if (it->second.scopes && !HasScope(*it->second.scopes, kKillmailsScope)) {
        ctx.set_last_killmail_id(it->second.last);
        ctx.set_token_problem("the token of character " + character + " lacks the scope " +
                              kKillmailsScope + " (granted: " +
                              (it->second.scopes->empty() ? "none" : *it->second.scopes) + ")");
      } else if (!it->second.valid) {
        ctx.set_last_killmail_id(it->second.last);
        ctx.set_token_problem("the access token of character " + character + " expired at " +
                              it->second.expires);
      } else {
        ctx.set_last_killmail_id(it->second.last);
        absl::StatusOr<std::string> token = OpenToken(t->entity_id, it->second);
        if (token.ok()) {
          ctx.set_access_token(*token);
          // ESI bills the calls made with this token to its character.
          t->caller = EsiCharacterCaller(t->entity_id);
        } else {
          ctx.set_token_problem("the access token of character " + character +
                                " cannot be used: " + std::string(token.status().message()));
        }
      }
      t->context = PackPayload(ctx);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<PayloadOutcome> Apply(pqxx::dbtransaction& txn, const ExtensionTask& task,
                                       const Completion& c, TimePoint now) override {
    auto refs = ParseRefs(c);
    if (!refs.ok()) return refs.status();
    return Write(txn, task, *refs, now, nullptr);
  }

  // The refs of every valid payload go into `killmails` first, in one
  // statement, in id order: characters of two batches share killmails, and
  // one insert per character (each in id order, but not in one order across
  // the batch) deadlocked when two batches met the same ids in opposite
  // orders. Then each completion's own writes, under its savepoint (a
  // completion whose own writes fail there leaves its refs in `killmails`:
  // they say what a killmail is, not whose it is).
  std::vector<absl::StatusOr<PayloadOutcome>> ApplyAll(pqxx::dbtransaction& txn,
                                                       const std::vector<ExtensionItem>& items,
                                                       TimePoint now) override {
    std::vector<absl::StatusOr<Refs>> parsed;
    std::map<int64_t, std::string> all;  // id -> hash, the first completion's
    for (const ExtensionItem& item : items) {
      parsed.push_back(ParseRefs(*item.completion));
      if (!parsed.back().ok()) continue;
      for (size_t i = 0; i < parsed.back()->ids.size(); ++i) {
        all.emplace(parsed.back()->ids[i], parsed.back()->hashes[i]);
      }
    }
    BatchRefs batch;
    if (!all.empty()) {
      std::vector<int64_t> ids;
      std::vector<std::string> hashes;
      for (const auto& [id, hash] : all) {
        ids.push_back(id);
        hashes.push_back(hash);
      }
      for (const auto& r :
           txn.exec_params(killmail_sql::kInsertRefs, PgArray(ids), PgTextArray(hashes))) {
        batch.inserted.insert(r[0].as<int64_t>());
      }
    }
    std::vector<absl::StatusOr<PayloadOutcome>> out;
    out.reserve(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
      if (!parsed[i].ok()) {
        out.push_back(parsed[i].status());
        continue;
      }
      out.push_back(UnderSavepoint(txn, "sluice_payload", "payload", [&] {
        return Write(txn, items[i].task, *parsed[i], now, &batch);
      }));
    }
    return out;
  }

 private:
  struct Refs {
    std::vector<int64_t> ids;
    std::vector<std::string> hashes;
    int64_t max_id = 0;
    bool full_read = false;
  };
  // The killmails a batch inserted in one statement (ApplyAll), and those
  // already counted for a completion of the batch: each new killmail counts
  // once, for the first completion that brought it.
  struct BatchRefs {
    std::set<int64_t> inserted;
    std::set<int64_t> counted;
  };

  static absl::StatusOr<Refs> ParseRefs(const Completion& c) {
    auto result =
        UnpackPayload<v1::CharacterKillmailsResult>(c.payload, "payload", kCharacterKillmailsKind);
    if (!result.ok()) return result.status();
    if (result->refs_size() > kMaxRefs) {
      return absl::InvalidArgumentError("payload.refs: at most " + std::to_string(kMaxRefs));
    }
    Refs refs;
    refs.full_read = result->full_read();
    for (int i = 0; i < result->refs_size(); ++i) {
      const v1::KillmailRef& ref = result->refs(i);
      const std::string field = "payload.refs[" + std::to_string(i) + "]";
      if (ref.killmail_id() <= 0) {
        return absl::InvalidArgumentError(field + ".killmail_id must be positive");
      }
      if (ref.killmail_hash().empty() || ref.killmail_hash().size() > kMaxHashLength ||
          !PrintableAscii(ref.killmail_hash())) {
        return absl::InvalidArgumentError(field + ".killmail_hash must be 1.." +
                                          std::to_string(kMaxHashLength) +
                                          " printable ASCII characters");
      }
      refs.ids.push_back(ref.killmail_id());
      refs.hashes.push_back(ref.killmail_hash());
      refs.max_id = std::max(refs.max_id, ref.killmail_id());
    }
    return refs;
  }

  // One completion's writes. `batch` is null when its refs are not in
  // `killmails` yet (Apply alone): they are inserted here.
  static absl::StatusOr<PayloadOutcome> Write(pqxx::dbtransaction& txn, const ExtensionTask& task,
                                              const Refs& refs, TimePoint now, BatchRefs* batch) {
    const std::string now_text = FormatRfc3339(now);
    PayloadOutcome out;
    if (!refs.ids.empty()) {
      if (batch == nullptr) {
        out.records_written +=
            txn.exec_params(killmail_sql::kInsertRefs, PgArray(refs.ids), PgTextArray(refs.hashes))
                .affected_rows();
      } else {
        for (int64_t id : refs.ids) {
          if (batch->inserted.count(id) > 0 && batch->counted.insert(id).second) {
            ++out.records_written;
          }
        }
      }
      out.records_written +=
          txn.exec_params(killmail_sql::kLinkCharacter, task.entity_id, PgArray(refs.ids))
              .affected_rows();
    }
    // The checkpoint moves with the killmails it covers. A full read saw the
    // whole list, so its newest id replaces a stored id the list no longer
    // has (else every later sync would read everything again); an
    // incremental read only ever moves forward.
    const bool replace = refs.full_read && refs.max_id > 0;
    txn.exec_params(killmail_sql::kMoveCheckpoint, task.entity_id, refs.max_id, now_text, replace);
    if (!refs.ids.empty()) {
      Discovery bodies;
      bodies.kind = kKillmailKind;
      for (const auto& r : txn.exec_params(killmail_sql::kBodiesMissing, PgArray(refs.ids))) {
        bodies.ids.push_back(r[0].as<int64_t>());
      }
      if (!bodies.ids.empty()) out.discovered.push_back(std::move(bodies));
    }
    return out;
  }

  template <typename Row>
  absl::StatusOr<std::string> OpenToken(int64_t character_id, const Row& row) const {
    if (box_ == nullptr) return NoTokenKeyError("the coordinator will not hand it out");
    if (!row.sealed_hex) {
      return absl::FailedPreconditionError(
          "it is stored in plain text from before 0016 and is sealed when a coordinator with a "
          "token key starts (or `sluicectl tokens rekey`)");
    }
    return box_->Open(row.key_id, absl::HexStringToBytes(*row.sealed_hex),
                      TokenLabel(character_id));
  }

  const SecretBox* const box_;
};

class KillmailExtension final : public TaskExtension {
 public:
  explicit KillmailExtension(const TaskKindRegistry* kinds) : kinds_(kinds) {}
  std::string kind() const override { return kKillmailKind; }

  absl::Status FillContext(pqxx::dbtransaction& txn, std::vector<LeasedTask*>& tasks,
                           TimePoint now) override {
    (void)now;
    std::vector<int64_t> ids;
    for (const LeasedTask* t : tasks) ids.push_back(t->entity_id);
    std::map<int64_t, std::string> hashes;
    for (const auto& r : txn.exec_params(killmail_sql::kHashes, PgArray(ids))) {
      hashes[r[0].as<int64_t>()] = r[1].c_str();
    }
    for (LeasedTask* t : tasks) {
      v1::KillmailContext ctx;
      auto it = hashes.find(t->entity_id);
      if (it != hashes.end()) ctx.set_killmail_hash(it->second);
      t->context = PackPayload(ctx);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<PayloadOutcome> Apply(pqxx::dbtransaction& txn, const ExtensionTask& task,
                                       const Completion& c, TimePoint now) override {
    auto km = UnpackPayload<v1::KillmailResult>(c.payload, "payload", kKillmailKind);
    if (!km.ok()) return km.status();
    if (km->killmail_id() != task.entity_id) {
      return absl::InvalidArgumentError("payload.killmail_id " + std::to_string(km->killmail_id()) +
                                        " does not match the task's entity id " +
                                        std::to_string(task.entity_id));
    }
    if (km->participants_size() == 0 || !km->participants(0).is_victim()) {
      return absl::InvalidArgumentError("payload.participants: the victim must come first");
    }
    if (!km->has_killmail_time()) {
      return absl::InvalidArgumentError("payload.killmail_time is required");
    }
    if (absl::Status s = CheckStorableJson("payload.body_json", km->body_json()); !s.ok()) {
      return s;
    }
    auto body = nlohmann::json::parse(km->body_json(), nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      return absl::InvalidArgumentError("payload.body_json: not a JSON object");
    }
    const v1::KillmailParticipant& v = km->participants(0);
    const std::string now_text = FormatRfc3339(now);
    auto updated = txn.exec_params(killmail_sql::kWriteBody, task.entity_id,
                                   FormatRfc3339(FromProto(km->killmail_time())),
                                   km->solar_system_id(), v.character_id(), v.corporation_id(),
                                   v.alliance_id(), v.ship_type_id(), km->body_json(), now_text);
    if (updated.affected_rows() == 0) {
      return absl::FailedPreconditionError(
          "killmail " + std::to_string(task.entity_id) +
          " is not known: killmails are learned from a character's killmail list");
    }
    std::vector<int64_t> positions, chars, corps, alliances, ships, damage;
    std::vector<std::string> victim_flags, final_flags;
    for (int i = 0; i < km->participants_size(); ++i) {
      const v1::KillmailParticipant& p = km->participants(i);
      positions.push_back(i);
      chars.push_back(p.character_id());
      corps.push_back(p.corporation_id());
      alliances.push_back(p.alliance_id());
      ships.push_back(p.ship_type_id());
      damage.push_back(p.damage());
      victim_flags.push_back(p.is_victim() ? "t" : "f");
      final_flags.push_back(p.final_blow() ? "t" : "f");
    }
    txn.exec_params(killmail_sql::kDeleteParticipants, task.entity_id);
    PayloadOutcome out;
    out.records_written =
        1 + static_cast<int>(txn.exec_params(killmail_sql::kInsertParticipants, task.entity_id,
                                             PgArray(positions), PgArray(chars), PgArray(corps),
                                             PgArray(alliances), PgArray(ships),
                                             PgTextArray(victim_flags), PgTextArray(final_flags),
                                             PgArray(damage))
                                 .affected_rows());
    // Scan entities, for this killmail: what it names that is not stored.
    const std::pair<const char*, const std::vector<int64_t>*> named[] = {
        {"character", &chars},
        {"corporation", &corps},
        {"alliance", &alliances},
        {kUniverseTypeKind, &ships}};
    for (const auto& [kind, ids] : named) {
      Discovery d;
      d.kind = kind;
      d.ids = MissingEntityIds(txn, kinds_->Find(kind), *ids);
      if (!d.ids.empty()) out.discovered.push_back(std::move(d));
    }
    return out;
  }

 private:
  const TaskKindRegistry* const kinds_;
};

}  // namespace

std::vector<int64_t> MissingEntityIds(pqxx::dbtransaction& txn, const TaskKind* k,
                                      const std::vector<int64_t>& ids) {
  std::vector<int64_t> positive;
  for (int64_t id : ids) {
    if (id > 0) positive.push_back(id);
  }
  std::sort(positive.begin(), positive.end());
  positive.erase(std::unique(positive.begin(), positive.end()), positive.end());
  if (positive.empty() || k == nullptr || k->entity_table.empty()) return positive;
  std::vector<int64_t> out;
  for (const auto& r : txn.exec_params(killmail_sql::MissingEntityIds(*k), PgArray(positive))) {
    out.push_back(r[0].as<int64_t>());
  }
  return out;
}

absl::Status RegisterKillmailKinds(TaskKindRegistry& kinds, TaskExtensionRegistry& extensions,
                                   const SecretBox* token_box) {
  for (const TaskKind& k : {TaskKind{kCharacterKillmailsKind, "character_static", "character_id"},
                            TaskKind{kKillmailKind, "", ""}}) {
    if (absl::Status s = kinds.Register(k); !s.ok()) return s;
  }
  if (absl::Status s =
          extensions.Register(std::make_unique<CharacterKillmailsExtension>(token_box));
      !s.ok()) {
    return s;
  }
  return extensions.Register(std::make_unique<KillmailExtension>(&kinds));
}

}  // namespace sluice
