#include "agent/handlers/poe_request_headers.h"

#include "absl/strings/str_cat.h"
#include "common/version.h"

namespace sluice::agent {

std::string PoeUserAgent(const std::string& client_id, const std::string& contact) {
  return absl::StrCat("OAuth ", client_id, "/", kVersion, " (contact: ",
                      contact.empty() ? "unknown" : contact, ")");
}

RequestHeaders PoeRequestHeaders(const sluice::v1::PoeStreamContext& context,
                                 const std::string& contact) {
  RequestHeaders headers;
  if (!context.access_token().empty()) {
    headers.emplace_back("Authorization", "Bearer " + context.access_token());
  }
  if (!context.client_id().empty()) {
    headers.emplace_back("User-Agent", PoeUserAgent(context.client_id(), contact));
  }
  return headers;
}

}  // namespace sluice::agent
