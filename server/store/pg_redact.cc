#include "server/store/pg_redact.h"

#include "absl/strings/match.h"

namespace sluice {
namespace {

// Markers of libpq's messages about connecting (PostgreSQL 15's libpq and
// server): any of them means the text may carry the host, the user or the DSN.
constexpr absl::string_view kConnectionMarkers[] = {
    "connection to server",
    "could not connect",
    "could not translate host",
    "password authentication",
    "pg_hba.conf",
    "connection info string",
    "invalid connection option",
    "invalid URI",
    "invalid integer value",
    "invalid sslmode",
    "authentication failed",
    "role \"",
    "database \"",
    "user \"",
    "host \"",
    "no password supplied",
    "SSL",
    "server certificate",
    "could not send SSL",
    "Is the server running",
    "timeout expired",
    "Connection refused",
    "No route to host",
    "Network is unreachable",
    "Name or service not known",
    "Temporary failure in name",
    "could not open certificate",
    "too many connections",
    "remaining connection slots",
};

struct Cause {
  absl::string_view marker;
  absl::string_view description;
};

// Most specific first.
constexpr Cause kCauses[] = {
    {"password authentication failed", "password authentication failed"},
    {"no password supplied", "the server wants a password and none was given"},
    {"authentication failed", "authentication failed"},
    {"pg_hba.conf", "the server's pg_hba.conf refuses this connection"},
    {"does not exist", "the database or role named in the DSN does not exist"},
    {"could not translate host", "the host name does not resolve"},
    {"Name or service not known", "the host name does not resolve"},
    {"Temporary failure in name", "the host name does not resolve (temporarily)"},
    {"Connection refused", "connection refused"},
    {"timeout expired", "connection timed out"},
    {"No route to host", "no route to the host"},
    {"Network is unreachable", "network unreachable"},
    {"too many connections", "too many connections"},
    {"remaining connection slots", "too many connections"},
    {"starting up", "the database system is starting up"},
    {"shutting down", "the database system is shutting down"},
    {"recovery mode", "the database system is in recovery"},
    {"connection info string", "the DSN is malformed"},
    {"invalid connection option", "the DSN is malformed"},
    {"invalid URI", "the DSN is malformed"},
    {"invalid integer value", "the DSN is malformed"},
    {"invalid sslmode", "the DSN is malformed"},
    {"certificate", "TLS certificate problem"},
    {"SSL", "TLS negotiation failed"},
    {"server closed the connection", "the server closed the connection"},
};

}  // namespace

std::string RedactPgMessage(absl::string_view message) {
  bool about_connecting = false;
  for (absl::string_view marker : kConnectionMarkers) {
    if (absl::StrContains(message, marker)) {
      about_connecting = true;
      break;
    }
  }
  if (!about_connecting) return std::string(message);
  for (const Cause& cause : kCauses) {
    if (absl::StrContains(message, cause.marker)) {
      return std::string(cause.description) + " (details withheld: they name the server and user)";
    }
  }
  return "cannot reach or log in to the database (details withheld: they name the server and user)";
}

}  // namespace sluice
