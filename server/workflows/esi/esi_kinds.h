// The core ESI sync's task kinds (seed 001): the alliance id list, alliance
// details, an alliance's corporations, corporation details, a corporation's
// members, character details; and their extension, which writes the entity
// records agents complete alliance, corporation and character tasks with.
//
// Thread-safety: the extension is stateless (see TaskExtension).
#ifndef SLUICE_SERVER_WORKFLOWS_ESI_ESI_KINDS_H_
#define SLUICE_SERVER_WORKFLOWS_ESI_ESI_KINDS_H_

#include <vector>

#include "absl/status/status.h"
#include "server/queue/task_kinds.h"
#include "server/store/task_extension.h"
#include "sluice/v1/entities.pb.h"

namespace sluice::esi {

inline constexpr char kAllianceIdsKind[] = "alliance_ids";
inline constexpr char kAllianceKind[] = "alliance";
inline constexpr char kAllianceCorporationsKind[] = "alliance_corporations";
inline constexpr char kCorporationKind[] = "corporation";
inline constexpr char kCorporationMembersKind[] = "corporation_members";
inline constexpr char kCharacterKind[] = "character";

// Registers the kinds and the records extension.
absl::Status RegisterEsiKinds(TaskKindRegistry& kinds, TaskExtensionRegistry& extensions);

// A task may only write the entity it was leased for: a confused or hostile
// agent must not overwrite other rows through a lease it holds.
// INVALID_ARGUMENT naming records[index] otherwise.
absl::Status CheckRecordFitsTask(const std::string& kind, int64_t entity_id,
                                 const v1::EntityRecord& record, size_t index);

}  // namespace sluice::esi

#endif  // SLUICE_SERVER_WORKFLOWS_ESI_ESI_KINDS_H_
