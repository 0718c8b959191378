#include "server/workflows/esi/entity_writer.h"

#include <nlohmann/json.hpp>

#include "common/time_util.h"

namespace sluice {
namespace {

using nlohmann::json;

json Ts(const google::protobuf::Timestamp& ts) {
  if (ts.seconds() == 0 && ts.nanos() == 0) return nullptr;
  return FormatRfc3339(FromProto(ts));
}

json Id(int64_t id) { return id == 0 ? json(nullptr) : json(id); }

constexpr char kUpsertAllianceStatic[] = R"sql(
INSERT INTO alliance_static (alliance_id, name, ticker, creator_id, creator_corporation_id,
                             date_founded, last_modified)
SELECT x.alliance_id, x.name, x.ticker, x.creator_id, x.creator_corporation_id, x.date_founded, $2
  FROM jsonb_to_recordset($1::jsonb) AS x(alliance_id BIGINT, name TEXT, ticker TEXT,
       creator_id BIGINT, creator_corporation_id BIGINT, date_founded TIMESTAMPTZ)
ON CONFLICT (alliance_id) DO UPDATE SET
  name = EXCLUDED.name, ticker = EXCLUDED.ticker, creator_id = EXCLUDED.creator_id,
  creator_corporation_id = EXCLUDED.creator_corporation_id,
  date_founded = EXCLUDED.date_founded, last_modified = EXCLUDED.last_modified)sql";

constexpr char kUpsertAllianceEphemeral[] = R"sql(
INSERT INTO alliance_ephemeral (alliance_id, executor_corporation_id, faction_id, updated_at)
SELECT x.alliance_id, x.executor_corporation_id, x.faction_id, $2
  FROM jsonb_to_recordset($1::jsonb) AS x(alliance_id BIGINT, executor_corporation_id BIGINT,
       faction_id BIGINT)
ON CONFLICT (alliance_id) DO UPDATE SET
  executor_corporation_id = EXCLUDED.executor_corporation_id,
  faction_id = EXCLUDED.faction_id, updated_at = EXCLUDED.updated_at)sql";

constexpr char kUpsertCorporationStatic[] = R"sql(
INSERT INTO corporation_static (corporation_id, name, ticker, creator_id, date_founded,
                                last_modified)
SELECT x.corporation_id, x.name, x.ticker, x.creator_id, x.date_founded, $2
  FROM jsonb_to_recordset($1::jsonb) AS x(corporation_id BIGINT, name TEXT, ticker TEXT,
       creator_id BIGINT, date_founded TIMESTAMPTZ)
ON CONFLICT (corporation_id) DO UPDATE SET
  name = EXCLUDED.name, ticker = EXCLUDED.ticker, creator_id = EXCLUDED.creator_id,
  date_founded = EXCLUDED.date_founded, last_modified = EXCLUDED.last_modified)sql";

constexpr char kUpsertCorporationEphemeral[] = R"sql(
INSERT INTO corporation_ephemeral (corporation_id, member_count, ceo_id, alliance_id, tax_rate,
                                   faction_id, updated_at)
SELECT x.corporation_id, x.member_count, x.ceo_id, x.alliance_id, x.tax_rate, x.faction_id, $2
  FROM jsonb_to_recordset($1::jsonb) AS x(corporation_id BIGINT, member_count BIGINT,
       ceo_id BIGINT, alliance_id BIGINT, tax_rate DOUBLE PRECISION, faction_id BIGINT)
ON CONFLICT (corporation_id) DO UPDATE SET
  member_count = EXCLUDED.member_count, ceo_id = EXCLUDED.ceo_id,
  alliance_id = EXCLUDED.alliance_id, tax_rate = EXCLUDED.tax_rate,
  faction_id = EXCLUDED.faction_id, updated_at = EXCLUDED.updated_at)sql";

constexpr char kUpsertCharacterStatic[] = R"sql(
INSERT INTO character_static (character_id, name, birthday, gender, race_id, bloodline_id,
                              last_modified)
SELECT x.character_id, x.name, x.birthday, x.gender, x.race_id, x.bloodline_id, $2
  FROM jsonb_to_recordset($1::jsonb) AS x(character_id BIGINT, name TEXT, birthday TIMESTAMPTZ,
       gender TEXT, race_id BIGINT, bloodline_id BIGINT)
ON CONFLICT (character_id) DO UPDATE SET
  name = EXCLUDED.name, birthday = EXCLUDED.birthday, gender = EXCLUDED.gender,
  race_id = EXCLUDED.race_id, bloodline_id = EXCLUDED.bloodline_id,
  last_modified = EXCLUDED.last_modified)sql";

constexpr char kUpsertCharacterEphemeral[] = R"sql(
INSERT INTO character_ephemeral (character_id, corporation_id, alliance_id, security_status,
                                 updated_at)
SELECT x.character_id, x.corporation_id, x.alliance_id, x.security_status, $2
  FROM jsonb_to_recordset($1::jsonb) AS x(character_id BIGINT, corporation_id BIGINT,
       alliance_id BIGINT, security_status DOUBLE PRECISION)
ON CONFLICT (character_id) DO UPDATE SET
  corporation_id = EXCLUDED.corporation_id, alliance_id = EXCLUDED.alliance_id,
  security_status = EXCLUDED.security_status, updated_at = EXCLUDED.updated_at)sql";

}  // namespace

int WriteEntityRecords(pqxx::dbtransaction& txn, const std::vector<v1::EntityRecord>& records,
                       TimePoint now) {
  json alliances = json::array(), corporations = json::array(), characters = json::array();
  for (const auto& r : records) {
    switch (r.record_case()) {
      case v1::EntityRecord::kAlliance: {
        const auto& a = r.alliance();
        alliances.push_back({{"alliance_id", a.alliance_id()},
                             {"name", a.name()},
                             {"ticker", a.ticker()},
                             {"creator_id", Id(a.creator_id())},
                             {"creator_corporation_id", Id(a.creator_corporation_id())},
                             {"date_founded", Ts(a.date_founded())},
                             {"executor_corporation_id", Id(a.executor_corporation_id())},
                             {"faction_id", Id(a.faction_id())}});
        break;
      }
      case v1::EntityRecord::kCorporation: {
        const auto& c = r.corporation();
        corporations.push_back({{"corporation_id", c.corporation_id()},
                                {"name", c.name()},
                                {"ticker", c.ticker()},
                                {"creator_id", Id(c.creator_id())},
                                {"date_founded", Ts(c.date_founded())},
                                {"member_count", c.member_count()},
                                {"ceo_id", Id(c.ceo_id())},
                                {"alliance_id", Id(c.alliance_id())},
                                {"tax_rate", c.tax_rate()},
                                {"faction_id", Id(c.faction_id())}});
        break;
      }
      case v1::EntityRecord::kCharacter: {
        const auto& c = r.character();
        characters.push_back({{"character_id", c.character_id()},
                              {"name", c.name()},
                              {"birthday", Ts(c.birthday())},
                              {"gender", c.gender()},
                              {"race_id", Id(c.race_id())},
                              {"bloodline_id", Id(c.bloodline_id())},
                              {"corporation_id", Id(c.corporation_id())},
                              {"alliance_id", Id(c.alliance_id())},
                              {"security_status", c.security_status()}});
        break;
      }
      case v1::EntityRecord::RECORD_NOT_SET:
        break;
    }
  }
  const std::string ts = FormatRfc3339(now);
  auto write = [&](const json& rows, const char* static_sql, const char* ephemeral_sql) {
    if (rows.empty()) return;
    const std::string doc = rows.dump();
    txn.exec_params(static_sql, doc, ts);
    txn.exec_params(ephemeral_sql, doc, ts);
  };
  write(alliances, kUpsertAllianceStatic, kUpsertAllianceEphemeral);
  write(corporations, kUpsertCorporationStatic, kUpsertCorporationEphemeral);
  write(characters, kUpsertCharacterStatic, kUpsertCharacterEphemeral);
  return static_cast<int>(alliances.size() + corporations.size() + characters.size());
}

}  // namespace sluice
