// Universe is the simulator's EVE Online world: alliances, their
// corporations and the corporations' characters, generated deterministically
// from a seed. Only the structure (ids and memberships) is stored, in flat
// arrays; names, dates and other attributes are derived from a hash of
// (seed, id, revision) when asked for, so the `full` universe (~93k
// characters) stays a few megabytes.
//
// Ownership: owned by the Simulator; route handlers hold a const pointer.
// Thread-safety: all const methods and Mutate() may be called concurrently.
// The structure is immutable after Generate(); revisions live behind a mutex.
#ifndef SLUICE_SIM_UNIVERSE_H_
#define SLUICE_SIM_UNIVERSE_H_

#include <absl/strings/string_view.h>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "sim/config.h"

namespace sluice::sim {

// Field names follow ESI. Zero means "absent" for optional ids.
struct AllianceInfo {
  int64_t id = 0;
  std::string name;
  std::string ticker;
  int64_t creator_id = 0;
  int64_t creator_corporation_id = 0;
  int64_t executor_corporation_id = 0;
  int64_t date_founded = 0;  // unix seconds
  int faction_id = 0;
  TimePoint last_modified;
};

struct CorporationInfo {
  int64_t id = 0;
  std::string name;
  std::string ticker;
  int member_count = 0;
  int64_t ceo_id = 0;
  int64_t creator_id = 0;
  int64_t alliance_id = 0;
  double tax_rate = 0;
  int64_t date_founded = 0;
  int faction_id = 0;
  std::string description;
  std::string url;
  TimePoint last_modified;
};

struct CharacterInfo {
  int64_t id = 0;
  std::string name;
  int64_t birthday = 0;
  std::string gender;
  int race_id = 0;
  int bloodline_id = 0;
  int64_t corporation_id = 0;
  int64_t alliance_id = 0;
  double security_status = 0;
  std::string description;
  TimePoint last_modified;
};

enum class EntityKind { kAlliance, kCorporation, kCharacter };
// "alliance" | "corporation" | "character".
std::optional<EntityKind> ParseEntityKind(absl::string_view text);

class Universe {
 public:
  // Fails only on an invalid config (see ValidateConfig). `generated_at` is
  // the Last-Modified of everything not mutated since.
  static absl::StatusOr<std::unique_ptr<Universe>> Generate(const UniverseConfig& config,
                                                            TimePoint generated_at);

  Universe(const Universe&) = delete;
  Universe& operator=(const Universe&) = delete;

  // Sorted ascending.
  std::vector<int64_t> AllianceIds() const;
  std::optional<AllianceInfo> FindAlliance(int64_t id) const;
  // nullopt when the alliance is unknown; sorted ascending.
  std::optional<std::vector<int64_t>> AllianceCorporations(int64_t id) const;
  std::optional<CorporationInfo> FindCorporation(int64_t id) const;
  std::optional<std::vector<int64_t>> CorporationMembers(int64_t id) const;
  std::optional<CharacterInfo> FindCharacter(int64_t id) const;

  // Changes the entity's name and some attributes (never its memberships, so
  // member_count stays consistent) and sets its Last-Modified to `now`.
  // `name`, when given, is served as the entity's name from then on, as is:
  // a fault to inject (a NUL byte, a megabyte of text), which real ESI does
  // not serve but a client must survive. NotFound if the id is unknown.
  absl::Status Mutate(EntityKind kind, int64_t id, TimePoint now,
                      std::optional<std::string> name = std::nullopt);

  TimePoint generated_at() const { return generated_at_; }
  // Counts, id ranges and a few sample ids, for tests and the demo.
  nlohmann::json Summary() const;

 private:
  struct Revision {
    uint32_t revision = 0;
    TimePoint modified;
    std::optional<std::string> name;  // served instead of the generated one
  };

  Universe(const UniverseConfig& config, TimePoint generated_at);
  void Build();
  Revision RevisionOf(EntityKind kind, uint32_t id) const;
  // Attribute hash for one entity; different `salt`s give independent values.
  uint64_t Hash(EntityKind kind, uint32_t id, uint32_t revision, uint64_t salt) const;
  static std::optional<uint32_t> IndexOf(const std::vector<uint32_t>& ids, int64_t id);
  std::string CorporationTicker(uint32_t corp_index, uint32_t revision) const;

  const UniverseConfig config_;
  const TimePoint generated_at_;

  std::vector<uint32_t> alliance_ids_;
  std::vector<uint32_t> alliance_corp_offsets_;  // CSR into alliance_corps_
  std::vector<uint32_t> alliance_corps_;         // corporation indexes
  std::vector<uint32_t> alliance_executor_;      // corporation index

  std::vector<uint32_t> corp_ids_;
  std::vector<int32_t> corp_alliance_;         // alliance index or -1
  std::vector<uint32_t> corp_member_offsets_;  // CSR into corp_members_
  std::vector<uint32_t> corp_members_;         // character indexes

  std::vector<uint32_t> char_ids_;
  std::vector<uint32_t> char_corp_;  // corporation index

  mutable std::mutex mu_;
  std::unordered_map<uint64_t, Revision> revisions_;  // guarded by mu_
};

}  // namespace sluice::sim

#endif  // SLUICE_SIM_UNIVERSE_H_
