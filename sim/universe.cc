#include "sim/universe.h"

#include <absl/strings/ascii.h>
#include <absl/strings/str_cat.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace sluice::sim {
namespace {

// ESI-like id bases. Gaps between consecutive ids keep the ranges sparse so
// a plausible-looking id can be unknown.
constexpr uint32_t kAllianceBase = 99000000;
constexpr uint32_t kCorporationBase = 98000000;
constexpr uint32_t kCharacterBase = 2112000000;

// 2003-05-06 (EVE launch) .. 2025-12-31.
constexpr int64_t kEpochStart = 1052179200;
constexpr int64_t kEpochEnd = 1767139200;

constexpr int kFactions[] = {500001, 500002, 500003, 500004};
// race_id -> bloodline ids, as on ESI.
struct Race {
  int race_id;
  int bloodlines[3];
};
constexpr Race kRaces[] = {{1, {1, 2, 12}}, {2, {3, 4, 14}}, {4, {5, 6, 13}}, {8, {7, 8, 11}}};

constexpr const char* kSyllables[] = {"ka",  "ro",  "vel", "dra", "mi",  "tor", "sen", "lu",
                                      "gar", "ne",  "zor", "an",  "thi", "bel", "qu",  "is",
                                      "mar", "do",  "xe",  "rin", "sol", "va",  "ken", "or",
                                      "ul",  "fen", "ja",  "pri", "os",  "tal", "em",  "ny"};
constexpr const char* kAllianceWords[] = {
    "Goon",     "Test",  "Pandemic",    "Fraternity", "Brave",   "Northern", "Legion", "Circle",
    "Dark",     "Iron",  "Silent",      "Crimson",    "Void",    "Stellar",  "Black",  "Rogue",
    "Wormhole", "Drone", "Triumvirate", "Shadow",     "Phoenix", "Horde",    "Siege",  "Tau"};
constexpr const char* kAllianceSuffixes[] = {"Alliance",  "Federation",  "Coalition", "Collective",
                                             "Syndicate", "Empire",      "Union",     "Consortium",
                                             "Accord",    "Directorate", "Front",     "Covenant"};
constexpr const char* kCorporationSuffixes[] = {
    "Inc.",   "Corp",     "Industries", "Holdings",     "Enterprises", "Logistics",
    "Mining", "Research", "Security",   "Explorations", "Fleet",       "Syndicate"};
constexpr const char* kDescriptions[] = {"",
                                         "",
                                         "",
                                         "Recruiting pilots of all ages.",
                                         "Nullsec industry and PvP.",
                                         "Wormhole dwellers since forever.",
                                         "No drama, just spaceships.",
                                         "Highsec mission runners.",
                                         "Fly safe o7"};

template <typename T, size_t N>
constexpr size_t Len(const T (&)[N]) {
  return N;
}

uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// Uniform in [0, n). The modulo bias is irrelevant for a simulator; what
// matters is that, unlike std::uniform_int_distribution, the result is the
// same on every standard library.
uint64_t Below(uint64_t r, uint64_t n) { return r % n; }

double Unit(uint64_t r) { return static_cast<double>(r >> 11) * 0x1.0p-53; }

double Round(double v, double scale) { return std::round(v * scale) / scale; }

std::string Capitalize(std::string s) {
  if (!s.empty()) s[0] = absl::ascii_toupper(s[0]);
  return s;
}

// A pronounceable word of 2-3 syllables.
std::string Word(uint64_t h) {
  int n = 2 + static_cast<int>(Below(h, 2));
  std::string out;
  for (int i = 0; i < n; ++i) {
    h = SplitMix64(h);
    out += kSyllables[Below(h, Len(kSyllables))];
  }
  return Capitalize(out);
}

std::string Ticker(uint64_t h, int min_len, int max_len) {
  int n = min_len + static_cast<int>(Below(h, max_len - min_len + 1));
  std::string out;
  for (int i = 0; i < n; ++i) {
    h = SplitMix64(h);
    out += static_cast<char>('A' + Below(h, 26));
  }
  return out;
}

int64_t DateIn(uint64_t h, int64_t from, int64_t to) {
  return from + static_cast<int64_t>(Below(h, static_cast<uint64_t>(to - from)));
}

// `count` strictly increasing ids after `base`, gaps in [2, max_gap].
std::vector<uint32_t> SpreadIds(std::mt19937_64& rng, uint32_t base, int count, uint32_t max_gap) {
  std::vector<uint32_t> ids(count);
  uint32_t id = base;
  for (int i = 0; i < count; ++i) {
    id += 2 + static_cast<uint32_t>(Below(rng(), max_gap - 1));
    ids[i] = id;
  }
  return ids;
}

// Splits `items` among `groups` (each gets at least one) with heavy-tailed
// sizes: weights ~ 1/x, like real alliances (a few giants, many tiny ones).
std::vector<uint32_t> SkewedSizes(std::mt19937_64& rng, int groups, int items) {
  std::vector<uint32_t> sizes(groups, 1);
  std::vector<uint64_t> cumulative(groups);
  uint64_t total = 0;
  for (int i = 0; i < groups; ++i) {
    total += 1000000 / (1 + Below(rng(), 1000));
    cumulative[i] = total;
  }
  for (int extra = items - groups; extra > 0; --extra) {
    uint64_t pick = Below(rng(), total);
    auto it = std::upper_bound(cumulative.begin(), cumulative.end(), pick);
    ++sizes[it - cumulative.begin()];
  }
  return sizes;
}

std::vector<uint32_t> Permutation(std::mt19937_64& rng, uint32_t n) {
  std::vector<uint32_t> p(n);
  for (uint32_t i = 0; i < n; ++i) p[i] = i;
  for (uint32_t i = n; i > 1; --i) std::swap(p[i - 1], p[Below(rng(), i)]);
  return p;
}

uint64_t RevisionKey(EntityKind kind, uint32_t id) {
  return (static_cast<uint64_t>(kind) << 32) | id;
}

}  // namespace

std::optional<EntityKind> ParseEntityKind(absl::string_view text) {
  if (text == "alliance") return EntityKind::kAlliance;
  if (text == "corporation") return EntityKind::kCorporation;
  if (text == "character") return EntityKind::kCharacter;
  return std::nullopt;
}

absl::StatusOr<std::unique_ptr<Universe>> Universe::Generate(const UniverseConfig& config,
                                                             TimePoint generated_at) {
  SimConfig probe;
  probe.universe = config;
  absl::Status s = ValidateConfig(probe);
  if (!s.ok()) return s;
  std::unique_ptr<Universe> u(new Universe(config, generated_at));
  u->Build();
  return u;
}

Universe::Universe(const UniverseConfig& config, TimePoint generated_at)
    : config_(config), generated_at_(generated_at) {}

void Universe::Build() {
  std::mt19937_64 rng(config_.seed);
  const int num_alliances = config_.alliances;
  const int num_corps = config_.corporations + config_.independent_corporations;
  const int num_chars = config_.characters;

  alliance_ids_ = SpreadIds(rng, kAllianceBase, num_alliances, 4);
  corp_ids_ = SpreadIds(rng, kCorporationBase, num_corps, 6);
  char_ids_ = SpreadIds(rng, kCharacterBase, num_chars, 20);

  // Alliances take the first `corporations` entries of a random permutation
  // of corporations; the rest stay independent.
  std::vector<uint32_t> corp_sizes = SkewedSizes(rng, num_alliances, config_.corporations);
  alliance_corps_ = Permutation(rng, num_corps);
  alliance_corps_.resize(config_.corporations);
  alliance_corp_offsets_.assign(num_alliances + 1, 0);
  corp_alliance_.assign(num_corps, -1);
  for (int a = 0; a < num_alliances; ++a) {
    uint32_t begin = alliance_corp_offsets_[a];
    uint32_t end = begin + corp_sizes[a];
    alliance_corp_offsets_[a + 1] = end;
    std::sort(alliance_corps_.begin() + begin, alliance_corps_.begin() + end);
    for (uint32_t i = begin; i < end; ++i) corp_alliance_[alliance_corps_[i]] = a;
  }

  std::vector<uint32_t> member_sizes = SkewedSizes(rng, num_corps, num_chars);
  corp_members_ = Permutation(rng, num_chars);
  corp_member_offsets_.assign(num_corps + 1, 0);
  char_corp_.assign(num_chars, 0);
  for (int c = 0; c < num_corps; ++c) {
    uint32_t begin = corp_member_offsets_[c];
    uint32_t end = begin + member_sizes[c];
    corp_member_offsets_[c + 1] = end;
    std::sort(corp_members_.begin() + begin, corp_members_.begin() + end);
    for (uint32_t i = begin; i < end; ++i) char_corp_[corp_members_[i]] = c;
  }

  // The executor is the alliance's largest corporation, as it usually is.
  alliance_executor_.resize(num_alliances);
  for (int a = 0; a < num_alliances; ++a) {
    uint32_t best = alliance_corps_[alliance_corp_offsets_[a]];
    for (uint32_t i = alliance_corp_offsets_[a]; i < alliance_corp_offsets_[a + 1]; ++i) {
      uint32_t c = alliance_corps_[i];
      if (member_sizes[c] > member_sizes[best]) best = c;
    }
    alliance_executor_[a] = best;
  }
}

std::optional<uint32_t> Universe::IndexOf(const std::vector<uint32_t>& ids, int64_t id) {
  if (id <= 0 || id > UINT32_MAX) return std::nullopt;
  auto it = std::lower_bound(ids.begin(), ids.end(), static_cast<uint32_t>(id));
  if (it == ids.end() || *it != id) return std::nullopt;
  return static_cast<uint32_t>(it - ids.begin());
}

uint64_t Universe::Hash(EntityKind kind, uint32_t id, uint32_t revision, uint64_t salt) const {
  uint64_t h = SplitMix64(config_.seed ^ 0x5151C0DEULL);
  h = SplitMix64(h ^ RevisionKey(kind, id));
  h = SplitMix64(h ^ (static_cast<uint64_t>(revision) << 32) ^ salt);
  return h;
}

Universe::Revision Universe::RevisionOf(EntityKind kind, uint32_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = revisions_.find(RevisionKey(kind, id));
  if (it == revisions_.end()) return Revision{0, generated_at_};
  return it->second;
}

std::vector<int64_t> Universe::AllianceIds() const {
  return std::vector<int64_t>(alliance_ids_.begin(), alliance_ids_.end());
}

std::optional<AllianceInfo> Universe::FindAlliance(int64_t id) const {
  std::optional<uint32_t> a = IndexOf(alliance_ids_, id);
  if (!a) return std::nullopt;
  Revision rev = RevisionOf(EntityKind::kAlliance, id);
  auto h = [&](uint64_t salt, uint32_t r) { return Hash(EntityKind::kAlliance, id, r, salt); };
  AllianceInfo info;
  info.id = id;
  info.name = absl::StrCat(kAllianceWords[Below(h(1, rev.revision), Len(kAllianceWords))], " ",
                           Word(h(2, rev.revision)), " ",
                           kAllianceSuffixes[Below(h(3, rev.revision), Len(kAllianceSuffixes))]);
  if (rev.revision > 0) absl::StrAppend(&info.name, " ", rev.revision);
  if (rev.name) info.name = *rev.name;
  info.ticker = Ticker(h(4, 0), 3, 5);
  uint32_t begin = alliance_corp_offsets_[*a], end = alliance_corp_offsets_[*a + 1];
  uint32_t creator_corp = alliance_corps_[begin + Below(h(5, 0), end - begin)];
  info.creator_corporation_id = corp_ids_[creator_corp];
  info.creator_id = FindCorporation(corp_ids_[creator_corp])->ceo_id;
  info.executor_corporation_id = corp_ids_[alliance_executor_[*a]];
  info.date_founded = DateIn(h(6, 0), kEpochStart + 86400 * 200, kEpochEnd);
  if (Below(h(7, 0), 20) == 0) info.faction_id = kFactions[Below(h(8, 0), Len(kFactions))];
  info.last_modified = rev.modified;
  return info;
}

std::optional<std::vector<int64_t>> Universe::AllianceCorporations(int64_t id) const {
  std::optional<uint32_t> a = IndexOf(alliance_ids_, id);
  if (!a) return std::nullopt;
  std::vector<int64_t> out;
  for (uint32_t i = alliance_corp_offsets_[*a]; i < alliance_corp_offsets_[*a + 1]; ++i) {
    out.push_back(corp_ids_[alliance_corps_[i]]);
  }
  return out;
}

std::string Universe::CorporationTicker(uint32_t corp_index, uint32_t revision) const {
  return Ticker(Hash(EntityKind::kCorporation, corp_ids_[corp_index], revision, 14), 2, 5);
}

std::optional<CorporationInfo> Universe::FindCorporation(int64_t id) const {
  std::optional<uint32_t> c = IndexOf(corp_ids_, id);
  if (!c) return std::nullopt;
  Revision rev = RevisionOf(EntityKind::kCorporation, id);
  auto h = [&](uint64_t salt, uint32_t r) { return Hash(EntityKind::kCorporation, id, r, salt); };
  CorporationInfo info;
  info.id = id;
  info.name =
      absl::StrCat(Word(h(11, rev.revision)), " ",
                   kCorporationSuffixes[Below(h(12, rev.revision), Len(kCorporationSuffixes))]);
  if (rev.revision > 0) absl::StrAppend(&info.name, " ", rev.revision);
  if (rev.name) info.name = *rev.name;
  info.ticker = CorporationTicker(*c, 0);
  uint32_t begin = corp_member_offsets_[*c], end = corp_member_offsets_[*c + 1];
  info.member_count = static_cast<int>(end - begin);
  info.ceo_id = char_ids_[corp_members_[begin + Below(h(15, 0), end - begin)]];
  info.creator_id = char_ids_[corp_members_[begin + Below(h(16, 0), end - begin)]];
  if (corp_alliance_[*c] >= 0) info.alliance_id = alliance_ids_[corp_alliance_[*c]];
  uint64_t tax = h(17, rev.revision);
  info.tax_rate = Below(tax, 10) < 3 ? 0.1 : Round(Unit(SplitMix64(tax)), 100);
  info.date_founded = DateIn(h(18, 0), kEpochStart, kEpochEnd);
  if (Below(h(19, 0), 30) == 0) info.faction_id = kFactions[Below(h(20, 0), Len(kFactions))];
  info.description = kDescriptions[Below(h(21, rev.revision), Len(kDescriptions))];
  if (Below(h(22, 0), 3) == 0) {
    info.url = absl::StrCat("https://", absl::AsciiStrToLower(info.ticker), ".example.com");
  }
  info.last_modified = rev.modified;
  return info;
}

std::optional<std::vector<int64_t>> Universe::CorporationMembers(int64_t id) const {
  std::optional<uint32_t> c = IndexOf(corp_ids_, id);
  if (!c) return std::nullopt;
  std::vector<int64_t> out;
  for (uint32_t i = corp_member_offsets_[*c]; i < corp_member_offsets_[*c + 1]; ++i) {
    out.push_back(char_ids_[corp_members_[i]]);
  }
  return out;
}

std::optional<CharacterInfo> Universe::FindCharacter(int64_t id) const {
  std::optional<uint32_t> ch = IndexOf(char_ids_, id);
  if (!ch) return std::nullopt;
  Revision rev = RevisionOf(EntityKind::kCharacter, id);
  auto h = [&](uint64_t salt, uint32_t r) { return Hash(EntityKind::kCharacter, id, r, salt); };
  CharacterInfo info;
  info.id = id;
  info.name = rev.name ? *rev.name : absl::StrCat(Word(h(31, 0)), " ", Word(h(32, 0)));
  info.birthday = DateIn(h(33, 0), kEpochStart, kEpochEnd);
  info.gender = Below(h(34, 0), 2) == 0 ? "male" : "female";
  const Race& race = kRaces[Below(h(35, 0), Len(kRaces))];
  info.race_id = race.race_id;
  info.bloodline_id = race.bloodlines[Below(h(36, 0), 3)];
  uint32_t corp = char_corp_[*ch];
  info.corporation_id = corp_ids_[corp];
  if (corp_alliance_[corp] >= 0) info.alliance_id = alliance_ids_[corp_alliance_[corp]];
  info.security_status = Round(-10.0 + 15.0 * Unit(h(37, rev.revision)), 1e4);
  if (rev.revision > 0) info.description = absl::StrCat("Updated ", rev.revision, " times.");
  info.last_modified = rev.modified;
  return info;
}

absl::Status Universe::Mutate(EntityKind kind, int64_t id, TimePoint now,
                              std::optional<std::string> name) {
  const std::vector<uint32_t>& ids = kind == EntityKind::kAlliance      ? alliance_ids_
                                     : kind == EntityKind::kCorporation ? corp_ids_
                                                                        : char_ids_;
  if (!IndexOf(ids, id)) return absl::NotFoundError(absl::StrCat("no entity with id ", id));
  std::lock_guard<std::mutex> lock(mu_);
  Revision& rev = revisions_[RevisionKey(kind, static_cast<uint32_t>(id))];
  ++rev.revision;
  rev.modified = now;
  if (name.has_value()) rev.name = std::move(name);
  return absl::OkStatus();
}

nlohmann::json Universe::Summary() const {
  auto range = [](const std::vector<uint32_t>& ids) {
    return nlohmann::json{{"count", ids.size()}, {"first", ids.front()}, {"last", ids.back()}};
  };
  nlohmann::json out = {{"seed", config_.seed},
                        {"alliances", range(alliance_ids_)},
                        {"corporations", range(corp_ids_)},
                        {"characters", range(char_ids_)},
                        {"independent_corporations", config_.independent_corporations}};
  std::lock_guard<std::mutex> lock(mu_);
  out["mutations"] = revisions_.size();
  return out;
}

}  // namespace sluice::sim
