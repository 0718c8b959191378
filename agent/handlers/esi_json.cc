#include "agent/handlers/esi_json.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/time_util.h"

namespace sluice::agent::esi {

using nlohmann::json;

std::optional<TimePoint> ParseIso8601(absl::string_view text) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, absl::StripAsciiWhitespace(text), &t, &err)) {
    return std::nullopt;
  }
  return absl::ToChronoTime(t);
}

std::string JoinUrl(const std::string& base, const std::string& path) {
  std::string out = base;
  while (!out.empty() && out.back() == '/') out.pop_back();
  return out + path;
}

namespace {

// Deeper than any answer ESI or PoE gives by far: nlohmann parses iteratively
// but serialises recursively, and a body nested ~100,000 deep (200 KB)
// overflowed an agent's stack in dump() (found by tests/fuzz).
constexpr int kMaxJsonDepth = 256;

// The deepest nesting of arrays and objects in `body`, outside strings;
// stops counting past kMaxJsonDepth.
int NestingDepth(const std::string& body) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : body) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > kMaxJsonDepth) break;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

}  // namespace

absl::StatusOr<json> ParseJson(const std::string& body, const std::string& what) {
  // nlohmann's parser stops at a NUL byte and accepts what came before: the
  // rest of such a body would go unread (and, kept as text, unstorable).
  if (body.find('\0') != std::string::npos) {
    return absl::DataLossError(absl::StrCat(what, ": malformed JSON body (", body.size(),
                                            " bytes): a NUL byte at offset ", body.find('\0')));
  }
  if (NestingDepth(body) > kMaxJsonDepth) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": JSON body nested deeper than ", kMaxJsonDepth, " levels"));
  }
  try {
    return json::parse(body);
  } catch (const json::exception& e) {
    // DATA_LOSS, not INVALID_ARGUMENT: a body that is not JSON at all is
    // usually cut short in transit and worth one more fetch; a body that
    // parses but breaks the schema is the same on every fetch (outcome.h).
    return absl::DataLossError(
        absl::StrCat(what, ": malformed JSON body (", body.size(), " bytes): ", e.what()));
  }
}

absl::StatusOr<json> ParseObject(const std::string& body, const std::string& what) {
  auto parsed = ParseJson(body, what);
  if (!parsed.ok()) return parsed.status();
  if (!parsed->is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": expected a JSON object, got ", parsed->type_name()));
  }
  return parsed;
}

absl::StatusOr<std::vector<int64_t>> ParseIdArray(const std::string& body,
                                                  const std::string& what) {
  auto parsed = ParseJson(body, what);
  if (!parsed.ok()) return parsed.status();
  if (!parsed->is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": expected a JSON array of ids, got ", parsed->type_name()));
  }
  std::vector<int64_t> ids;
  ids.reserve(parsed->size());
  for (size_t i = 0; i < parsed->size(); ++i) {
    const json& v = (*parsed)[i];
    if (!v.is_number_integer()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": element ", i, " is ", v.type_name(), ", expected an integer id"));
    }
    ids.push_back(v.get<int64_t>());
  }
  return ids;
}

const json* FieldReader::Lookup(const char* field, bool required) {
  auto it = object_.find(field);
  if (it == object_.end() || it->is_null()) {
    if (required) Fail(field, "is missing");
    return nullptr;
  }
  return &*it;
}

void FieldReader::Fail(const char* field, const std::string& problem) {
  if (!status_.ok()) return;
  status_ = absl::InvalidArgumentError(absl::StrCat(what_, ": field '", field, "' ", problem));
}

int64_t FieldReader::RequiredInt(const char* field) {
  const json* v = Lookup(field, true);
  if (v == nullptr) return 0;
  if (!v->is_number_integer()) {
    Fail(field, absl::StrCat("is ", v->type_name(), ", expected an integer"));
    return 0;
  }
  return v->get<int64_t>();
}

int64_t FieldReader::OptionalInt(const char* field) {
  const json* v = Lookup(field, false);
  if (v == nullptr) return 0;
  if (!v->is_number_integer()) {
    Fail(field, absl::StrCat("is ", v->type_name(), ", expected an integer"));
    return 0;
  }
  return v->get<int64_t>();
}

std::string FieldReader::RequiredString(const char* field) {
  const json* v = Lookup(field, true);
  if (v == nullptr) return "";
  if (!v->is_string()) {
    Fail(field, absl::StrCat("is ", v->type_name(), ", expected a string"));
    return "";
  }
  return v->get<std::string>();
}

double FieldReader::RequiredDouble(const char* field) {
  const json* v = Lookup(field, true);
  if (v == nullptr) return 0;
  if (!v->is_number()) {
    Fail(field, absl::StrCat("is ", v->type_name(), ", expected a number"));
    return 0;
  }
  return v->get<double>();
}

double FieldReader::OptionalDouble(const char* field) {
  const json* v = Lookup(field, false);
  if (v == nullptr) return 0;
  if (!v->is_number()) {
    Fail(field, absl::StrCat("is ", v->type_name(), ", expected a number"));
    return 0;
  }
  return v->get<double>();
}

google::protobuf::Timestamp FieldReader::RequiredTime(const char* field) {
  const json* v = Lookup(field, true);
  if (v == nullptr) return {};
  if (!v->is_string()) {
    Fail(field, absl::StrCat("is ", v->type_name(), ", expected an ISO-8601 string"));
    return {};
  }
  auto t = ParseIso8601(v->get<std::string>());
  if (!t) {
    Fail(field, absl::StrCat("'", v->get<std::string>(), "' is not an ISO-8601 date-time"));
    return {};
  }
  return ToProto(*t);
}

std::optional<google::protobuf::Timestamp> FieldReader::OptionalTime(const char* field) {
  if (Lookup(field, false) == nullptr) return std::nullopt;
  return RequiredTime(field);
}

void AddDiscovered(HandlerResult* result, const std::string& kind, std::vector<int64_t> ids,
                   bool force) {
  std::set<int64_t> seen;
  sluice::v1::Discovered discovered;
  discovered.set_kind(kind);
  discovered.set_force(force);
  for (int64_t id : ids) {
    if (id <= 0 || !seen.insert(id).second) continue;
    discovered.add_ids(id);
  }
  if (discovered.ids_size() == 0) return;
  result->discovered.push_back(std::move(discovered));
}

std::vector<int64_t> PlayerCharacterIds(std::vector<int64_t> ids) {
  ids.erase(std::remove_if(ids.begin(), ids.end(),
                           [](int64_t id) { return id < kFirstPlayerCharacterId; }),
            ids.end());
  return ids;
}

}  // namespace sluice::agent::esi
