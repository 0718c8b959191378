#include "server/workflows/killmails/killmail_admin_service.h"

#include "common/grpc_status.h"
#include "common/time_util.h"

namespace sluice {

grpc::Status KillmailAdminServiceImpl::RegisterCharacterToken(
    grpc::ServerContext* ctx, const v1::RegisterCharacterTokenRequest* req,
    v1::RegisterCharacterTokenResponse* resp) {
  if (auto s = auth_->Check(ctx); !s.ok()) return s;
  if (!req->has_expires_at()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "expires_at is required");
  }
  auto created =
      tokens_->Register(req->character_id(), req->access_token(), FromProto(req->expires_at()));
  if (!created.ok()) return ToGrpcStatus(created.status());
  resp->set_created(*created);
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
