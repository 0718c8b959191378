// The coordinator's one statement of its own: the database health probe
// (Coordinator::HealthLoop). Everything else it reaches through the stores.
#ifndef SLUICE_SERVER_COORDINATOR_SQL_H_
#define SLUICE_SERVER_COORDINATOR_SQL_H_

namespace sluice::coordinator_sql {

// A round trip and nothing else: health follows whether PostgreSQL answers.
inline constexpr char kHealthProbe[] = "SELECT 1";

}  // namespace sluice::coordinator_sql

#endif  // SLUICE_SERVER_COORDINATOR_SQL_H_
