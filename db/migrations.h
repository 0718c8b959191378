// The schema migrations in db/migrations/, embedded at build time.
#ifndef SLUICE_DB_MIGRATIONS_H_
#define SLUICE_DB_MIGRATIONS_H_

#include <string>
#include <vector>

namespace sluice {

struct Migration {
  int version;
  std::string name;
  std::string sql;
};

// Sorted by version, versions unique.
const std::vector<Migration>& EmbeddedMigrations();

}  // namespace sluice

#endif  // SLUICE_DB_MIGRATIONS_H_
