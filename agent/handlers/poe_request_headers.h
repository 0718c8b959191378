// The headers GGG asks of every PoE API request made for a stream
// (pathofexile.com/developer/docs): "Authorization: Bearer <token>" with the
// coordinator's service token (handed in PoeStreamContext with the lease),
// and "User-Agent: OAuth {clientId}/{version} (contact: {email})" with the
// coordinator's client id, Sluice's version and the agent's --contact. The
// request's User-Agent header replaces the agent's own (libcurl sends a
// request's header in place of CURLOPT_USERAGENT).
//
// Thread-safety: a pure function.
#ifndef SLUICE_AGENT_HANDLERS_POE_REQUEST_HEADERS_H_
#define SLUICE_AGENT_HANDLERS_POE_REQUEST_HEADERS_H_

#include <string>

#include "agent/http/upstream_client.h"
#include "sluice/v1/poe.pb.h"

namespace sluice::agent {

// Empty fields add no header: without a client id the agent's own
// User-Agent stays, without a token no Authorization is sent.
RequestHeaders PoeRequestHeaders(const sluice::v1::PoeStreamContext& context,
                                 const std::string& contact);

// "OAuth sluice/1.2.3 (contact: ops@example.org)".
std::string PoeUserAgent(const std::string& client_id, const std::string& contact);

}  // namespace sluice::agent

#endif  // SLUICE_AGENT_HANDLERS_POE_REQUEST_HEADERS_H_
