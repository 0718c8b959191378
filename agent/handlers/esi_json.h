// Helpers shared by the ESI handlers: URL building, JSON body parsing with
// precise error messages, typed field access and discovery lists.
//
// Errors name the entity and the field ("corporation 98000001: field
// 'member_count' is missing") because they end up in dead_tasks, where an
// operator reads them without the body at hand.
#ifndef SLUICE_AGENT_HANDLERS_ESI_JSON_H_
#define SLUICE_AGENT_HANDLERS_ESI_JSON_H_

#include <google/protobuf/timestamp.pb.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/handlers/handler.h"
#include "common/clock.h"

namespace sluice::agent::esi {

// ESI's player characters start at 90,000,000; lower ids are NPCs (agents,
// CEOs of NPC corporations) and system placeholders (creator_id 1), which have
// no /characters/ record worth fetching.
inline constexpr int64_t kFirstPlayerCharacterId = 90000000;

// ESI's JSON date-times: RFC 3339 / ISO 8601, "2010-11-04T13:11:00Z", with
// optional fractional seconds and a numeric offset instead of Z. nullopt if
// `text` is not one.
std::optional<TimePoint> ParseIso8601(absl::string_view text);

// base (trailing slashes dropped) + path.
std::string JoinUrl(const std::string& base, const std::string& path);

// The whole body as JSON, or DATA_LOSS naming `what` and the parse position
// (a truncated or garbled body, or one with a NUL byte); INVALID_ARGUMENT for
// one nested deeper than 256 levels (schema errors are INVALID_ARGUMENT too).
absl::StatusOr<nlohmann::json> ParseJson(const std::string& body, const std::string& what);
// A JSON object body.
absl::StatusOr<nlohmann::json> ParseObject(const std::string& body, const std::string& what);
// A JSON array of integer ids, e.g. GET /alliances/.
absl::StatusOr<std::vector<int64_t>> ParseIdArray(const std::string& body, const std::string& what);

// Reads typed fields from one JSON object, remembering the first error so a
// handler can read every field and check once.
class FieldReader {
 public:
  FieldReader(const nlohmann::json& object, std::string what)
      : object_(object), what_(std::move(what)) {}

  int64_t RequiredInt(const char* field);
  // 0 when absent or null (ESI omits optional ids).
  int64_t OptionalInt(const char* field);
  std::string RequiredString(const char* field);
  double RequiredDouble(const char* field);
  double OptionalDouble(const char* field);
  google::protobuf::Timestamp RequiredTime(const char* field);
  // nullopt when absent, so the record can leave the field unset.
  std::optional<google::protobuf::Timestamp> OptionalTime(const char* field);

  // OK, or the first problem found.
  const absl::Status& status() const { return status_; }

 private:
  const nlohmann::json* Lookup(const char* field, bool required);
  void Fail(const char* field, const std::string& problem);

  const nlohmann::json& object_;
  const std::string what_;
  absl::Status status_;
};

// Appends Discovered{kind, ids, force}, dropping non-positive and duplicate
// ids; appends nothing if no id is left.
void AddDiscovered(HandlerResult* result, const std::string& kind, std::vector<int64_t> ids,
                   bool force);

// Ids worth a /characters/ fetch (see kFirstPlayerCharacterId).
std::vector<int64_t> PlayerCharacterIds(std::vector<int64_t> ids);

}  // namespace sluice::agent::esi

#endif  // SLUICE_AGENT_HANDLERS_ESI_JSON_H_
