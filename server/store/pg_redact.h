// What may be said of a database error. libpq's connection messages name the
// server's host and address, the user and the database ("connection to
// server at \"pg.example.org\" (10.0.0.5), port 5432 failed: FATAL: password
// authentication failed for user \"sluice\""), and its DSN parse errors quote
// the DSN itself, password included. Every message PgPool turns into a
// status, and so every log line and RPC error built from one, passes here.
//
// Thread-safety: a pure function.
#ifndef SLUICE_SERVER_STORE_PG_REDACT_H_
#define SLUICE_SERVER_STORE_PG_REDACT_H_

#include <string>

#include "absl/strings/string_view.h"

namespace sluice {

// A message about reaching or logging in to the server becomes a fixed
// description of the cause ("password authentication failed", "the host name
// does not resolve", ...), naming no host, address, port, user, database or
// DSN; any other message (a statement's error) is returned as it is.
std::string RedactPgMessage(absl::string_view message);

}  // namespace sluice

#endif  // SLUICE_SERVER_STORE_PG_REDACT_H_
