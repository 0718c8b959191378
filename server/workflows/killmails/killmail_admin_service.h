// KillmailAdminServiceImpl translates sluice.v1.KillmailAdminService
// (sluicectl tokens, grpcurl) to CharacterTokenStore calls, and refresh
// tokens / authorization codes to the SsoRefresher's. Tokens go in and
// never come back out.
//
// Ownership: borrows the store, the refresher (null: no EVE SSO client) and
// the authorizer. Thread-safety: no
// mutable state.
#ifndef SLUICE_SERVER_WORKFLOWS_KILLMAILS_KILLMAIL_ADMIN_SERVICE_H_
#define SLUICE_SERVER_WORKFLOWS_KILLMAILS_KILLMAIL_ADMIN_SERVICE_H_

#include "common/grpc_security.h"
#include "server/workflows/killmails/sso_refresher.h"
#include "server/workflows/killmails/token_store.h"
#include "sluice/v1/killmails.grpc.pb.h"

namespace sluice {

class KillmailAdminServiceImpl final : public v1::KillmailAdminService::Service {
 public:
  KillmailAdminServiceImpl(CharacterTokenStore* tokens, SsoRefresher* refresher,
                           const Authorizer* auth)
      : tokens_(tokens), refresher_(refresher), auth_(auth) {}

  grpc::Status RegisterCharacterToken(grpc::ServerContext* ctx,
                                      const v1::RegisterCharacterTokenRequest* req,
                                      v1::RegisterCharacterTokenResponse* resp) override;
  grpc::Status ListCharacterTokens(grpc::ServerContext* ctx,
                                   const v1::ListCharacterTokensRequest* req,
                                   v1::ListCharacterTokensResponse* resp) override;
  grpc::Status RekeyCharacterTokens(grpc::ServerContext* ctx,
                                    const v1::RekeyCharacterTokensRequest* req,
                                    v1::RekeyCharacterTokensResponse* resp) override;

 private:
  CharacterTokenStore* const tokens_;
  SsoRefresher* const refresher_;
  const Authorizer* const auth_;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_WORKFLOWS_KILLMAILS_KILLMAIL_ADMIN_SERVICE_H_
