// What an ESI entity record may hold before it reaches the database: the
// schema of ESI's own answers (https://esi.evetech.net/latest/swagger.json,
// definitions of get_alliances_alliance_id_ok, get_corporations_corporation_id_ok,
// get_characters_character_id_ok) and EVE's naming rules (character names up
// to 37 characters; corporation and alliance names up to 50; tickers up to 5).
// Agents translate upstream JSON into records; this is where the
// coordinator refuses what no real answer holds (a NUL byte, a megabyte
// name, a negative id, a gender ESI does not list), one record at a time,
// so a bad answer fails its own task and never its neighbours' transaction.
//
// Plain functions; thread-safe.
#ifndef SLUICE_SERVER_WORKFLOWS_ESI_RECORD_SCHEMA_H_
#define SLUICE_SERVER_WORKFLOWS_ESI_RECORD_SCHEMA_H_

#include <string>

#include "absl/status/status.h"
#include "sluice/v1/entities.pb.h"

namespace sluice::esi {

// OK, or INVALID_ARGUMENT naming the field ("records[0].name: ...") and
// quoting at most a bounded prefix of its value.
absl::Status CheckEntityRecord(const v1::EntityRecord& record, const std::string& field);

}  // namespace sluice::esi

#endif  // SLUICE_SERVER_WORKFLOWS_ESI_RECORD_SCHEMA_H_
