// Every PostgreSQL advisory lock key the coordinator takes, in one place.
//
// PostgreSQL keeps two key spaces apart: one bigint key, and two int4 keys.
// The migrator and the claim function lock single bigint keys; scheduled
// jobs lock (class, hashtext(name)) pairs, so a job's hashed name can never
// collide with the single keys.
#ifndef SLUICE_SERVER_STORE_LOCK_KEYS_H_
#define SLUICE_SERVER_STORE_LOCK_KEYS_H_

#include <cstdint>

namespace sluice::lock_keys {

// Held by Migrator::Apply for the whole run (session lock).
inline constexpr int64_t kMigration = 7314000;
// 7314001 was sluice_claim()'s lock until claims stopped serialising on one
// lock (db/migrations/0009_flat_claim.sql); it stays retired, not reused.
// Held by the leading coordinator for as long as it leads (a session lock on
// a connection of its own: server/leader/leader_elector.h).
inline constexpr int64_t kLeader = 7314002;
// The class (first int4) of every scheduled job's lock; the second int4 is
// hashtext('sluice.job.' || name).
inline constexpr int32_t kJobClass = 7314100;
// The class (first int4) of poe_stash_raw_ensure_partition()'s lock, taken
// per transaction while a league's partitions are created; the second int4
// is hashtext(<the league's partition name>). The function's body spells the
// number out (db/migrations/0008_league_partition_lock.sql), and a test reads
// the installed function to keep the two equal.
inline constexpr int32_t kLeagueClass = 7314200;

}  // namespace sluice::lock_keys

#endif  // SLUICE_SERVER_STORE_LOCK_KEYS_H_
