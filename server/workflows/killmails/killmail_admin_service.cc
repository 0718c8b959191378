#include "server/workflows/killmails/killmail_admin_service.h"

#include "common/grpc_status.h"
#include "common/time_util.h"

namespace sluice {

grpc::Status KillmailAdminServiceImpl::RegisterCharacterToken(
    grpc::ServerContext* ctx, const v1::RegisterCharacterTokenRequest* req,
    v1::RegisterCharacterTokenResponse* resp) {
  if (auto s = auth_->Check(ctx); !s.ok()) return s;
  const int given = !req->access_token().empty() + !req->refresh_token().empty() +
                    !req->authorization_code().empty();
  if (given != 1) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "give exactly one of access_token, refresh_token and authorization_code");
  }
  if (req->access_token().empty()) {
    if (refresher_ == nullptr) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          "the coordinator has no EVE SSO client: start it with "
                          "--eve_sso_client_id and --eve_sso_client_secret_file to add a refresh "
                          "token or an authorization code");
    }
    auto created = req->refresh_token().empty()
                       ? refresher_->AddAuthorizationCode(req->character_id(),
                                                          req->authorization_code())
                       : refresher_->AddRefreshToken(req->character_id(), req->refresh_token());
    if (!created.ok()) return ToGrpcStatus(created.status());
    resp->set_created(*created);
    auto info = tokens_->List({req->character_id()});
    if (info.ok() && !info->empty()) {
      *resp->mutable_expires_at() = ToProto(info->front().expires_at);
      if (info->front().scopes) {
        for (const auto& scope : *info->front().scopes) resp->add_scopes(scope);
      }
    }
    return grpc::Status::OK;
  }
  if (!req->has_expires_at()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "expires_at is required");
  }
  auto created =
      tokens_->Register(req->character_id(), req->access_token(), FromProto(req->expires_at()));
  if (!created.ok()) return ToGrpcStatus(created.status());
  resp->set_created(*created);
  *resp->mutable_expires_at() = req->expires_at();
  return grpc::Status::OK;
}

grpc::Status KillmailAdminServiceImpl::ListCharacterTokens(
    grpc::ServerContext* ctx, const v1::ListCharacterTokensRequest* req,
    v1::ListCharacterTokensResponse* resp) {
  if (auto s = auth_->Check(ctx); !s.ok()) return s;
  auto list = tokens_->List({req->character_ids().begin(), req->character_ids().end()});
  if (!list.ok()) return ToGrpcStatus(list.status());
  for (const CharacterTokenInfo& t : *list) {
    v1::CharacterTokenInfo* out = resp->add_tokens();
    out->set_character_id(t.character_id);
    *out->mutable_expires_at() = ToProto(t.expires_at);
    out->set_expired(t.expired);
    out->set_last_killmail_id(t.last_killmail_id);
    if (t.last_killmail_sync_at)
      *out->mutable_last_killmail_sync_at() = ToProto(*t.last_killmail_sync_at);
    out->set_killmails(t.killmails);
    *out->mutable_updated_at() = ToProto(t.updated_at);
    out->set_refreshable(t.refreshable);
    out->set_state(t.state);
    out->set_disabled_reason(t.disabled_reason);
    if (t.disabled_at) *out->mutable_disabled_at() = ToProto(*t.disabled_at);
    out->set_scopes_known(t.scopes.has_value());
    if (t.scopes) {
      for (const auto& scope : *t.scopes) out->add_scopes(scope);
    }
    out->set_refreshes(t.refreshes);
    out->set_refresh_failures(t.refresh_failures);
    out->set_last_refresh_error(t.last_refresh_error);
    if (t.next_refresh_at) *out->mutable_next_refresh_at() = ToProto(*t.next_refresh_at);
  }
  return grpc::Status::OK;
}

grpc::Status KillmailAdminServiceImpl::RekeyCharacterTokens(
    grpc::ServerContext* ctx, const v1::RekeyCharacterTokensRequest* req,
    v1::RekeyCharacterTokensResponse* resp) {
  if (auto s = auth_->Check(ctx); !s.ok()) return s;
  auto result = tokens_->Rekey();
  if (!result.ok()) return ToGrpcStatus(result.status());
  resp->set_resealed(result->resealed);
  resp->set_sealed_plain(result->sealed_plain);
  resp->set_unreadable(result->unreadable);
  resp->set_current_key_id(result->current_key_id);
  return grpc::Status::OK;
}

}  // namespace sluice
