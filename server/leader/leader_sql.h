// Every statement of leader election (LeaderElector) by name. The table, the
// fence and why it works: db/migrations/0015_leader.sql. The lock key is
// lock_keys::kLeader, always bound.
#ifndef SLUICE_SERVER_LEADER_LEADER_SQL_H_
#define SLUICE_SERVER_LEADER_LEADER_SQL_H_

namespace sluice::leader_sql {

// The lock session's own settings. It is idle between checks, so the server
// must find out by itself that a leader's host vanished (no FIN): TCP
// keepalives drop such a session, and its lock, within about 9 s. A check
// that cannot answer within 2 s counts as failed.
inline constexpr char kSessionSettings[] = R"sql(
SET application_name = 'sluice-coordinator leader lock';
SET statement_timeout = '2s';
SET tcp_keepalives_idle = 5;
SET tcp_keepalives_interval = 2;
SET tcp_keepalives_count = 2)sql";

// $1 lock key. A session lock: held until released or the session ends.
inline constexpr char kTryLock[] = "SELECT pg_try_advisory_lock($1)";
// $1 lock key.
inline constexpr char kUnlock[] = "SELECT pg_advisory_unlock($1)";

// Who leads now, for a standby's log line (the table exists from 0015 on).
inline constexpr char kLeaderTableExists[] = "SELECT to_regclass('sluice_leader') IS NOT NULL";
inline constexpr char kCurrentLeader[] =
    "SELECT epoch, holder, since::text FROM sluice_leader WHERE id = 1";

// Run in one transaction: FOR UPDATE waits for every transaction that passed
// an older epoch's fence (they hold FOR KEY SHARE), then the bump makes every
// later one fail. $1 holder.
inline constexpr char kLockLeaderRow[] = "SELECT epoch FROM sluice_leader WHERE id = 1 FOR UPDATE";
inline constexpr char kBumpEpoch[] = R"sql(
UPDATE sluice_leader SET epoch = epoch + 1, holder = $1, since = now() WHERE id = 1
RETURNING epoch)sql";
// How long the bump waits for an earlier leader's transactions before ending
// their sessions.
// The session's 2 s statement timeout would end the wait first: lift it.
inline constexpr char kBumpLockTimeout[] =
    "SET LOCAL lock_timeout = '2s'; SET LOCAL statement_timeout = '10s'";
// Ends every fenced session of an earlier epoch (their application_name is
// the leader's pool's "sluice-coordinator epoch=N"); their transactions roll
// back. Run while holding the lock and before this leader opens its pool, so
// every such session is an earlier leader's.
inline constexpr char kEndEarlierSessions[] = R"sql(
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE application_name LIKE 'sluice-coordinator epoch=%' AND pid <> pg_backend_pid())sql";

// A leader's pool connection (FenceSessions): the epoch the fence checks,
// and the name kEndEarlierSessions finds it by. $1 epoch, $2 name.
inline constexpr char kFenceSession[] =
    "SELECT set_config('sluice.epoch', $1, false), set_config('application_name', $2, false)";

// The leader's check: the lock session still answers and no one has taken a
// newer epoch.
inline constexpr char kCheckEpoch[] = "SELECT epoch FROM sluice_leader WHERE id = 1";

}  // namespace sluice::leader_sql

#endif  // SLUICE_SERVER_LEADER_LEADER_SQL_H_
