#include "common/secret_box.h"

#include <sodium.h>

#include "absl/strings/str_cat.h"
#include "common/env_flags.h"

namespace sluice {
namespace {

constexpr absl::string_view kKeyIdContext = "sluice key id v1";
constexpr absl::string_view kLabelContext = "sluice secretbox label v1:";

absl::Status EnsureSodium() {
  if (sodium_init() < 0) return absl::InternalError("libsodium did not initialise");
  return absl::OkStatus();
}

// The key a label's values are sealed under: BLAKE2b keyed with the box key
// over the label, so a value opens only under its own label.
SecretBox::Key LabelKey(const SecretBox::Key& key, absl::string_view label) {
  const std::string input = absl::StrCat(kLabelContext, label);
  SecretBox::Key out;
  crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(input.data()),
                     input.size(), key.data(), key.size());
  return out;
}

}  // namespace

absl::StatusOr<SecretBox::Key> SecretBox::ParseKey(absl::string_view text) {
  if (absl::Status s = EnsureSodium(); !s.ok()) return s;
  Key key;
  // Text forms may end in a newline (echo, an editor).
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  size_t len = 0;
  if (text.size() == 2 * kKeyBytes &&
      sodium_hex2bin(key.data(), key.size(), text.data(), text.size(), nullptr, &len, nullptr) ==
          0 &&
      len == kKeyBytes) {
    return key;
  }
  if (sodium_base642bin(key.data(), key.size(), text.data(), text.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) == 0 &&
      len == kKeyBytes) {
    return key;
  }
  return absl::InvalidArgumentError(
      "a token key must be 32 bytes written as 64 hex digits or base64 (e.g. "
      "`openssl rand -hex 32`)");
}

absl::StatusOr<SecretBox> SecretBox::FromKeyTexts(absl::string_view current,
                                                  absl::string_view previous) {
  absl::StatusOr<Key> cur = ParseKey(current);
  if (!cur.ok())
    return absl::InvalidArgumentError(absl::StrCat("current key: ", cur.status().message()));
  std::optional<Key> prev;
  if (!previous.empty()) {
    absl::StatusOr<Key> p = ParseKey(previous);
    if (!p.ok())
      return absl::InvalidArgumentError(absl::StrCat("previous key: ", p.status().message()));
    prev = *p;
  }
  return SecretBox(*cur, prev);
}

absl::StatusOr<SecretBox> SecretBox::FromKeyFiles(const std::string& current_file,
                                                  const std::string& previous_file) {
  absl::StatusOr<std::string> cur = ReadSecretFile(current_file);
  if (!cur.ok()) return cur.status();
  std::string prev;
  if (!previous_file.empty()) {
    absl::StatusOr<std::string> p = ReadSecretFile(previous_file);
    if (!p.ok()) return p.status();
    prev = *p;
  }
  absl::StatusOr<SecretBox> box = FromKeyTexts(*cur, prev);
  sodium_memzero(cur->data(), cur->size());
  sodium_memzero(prev.data(), prev.size());
  return box;
}

SecretBox::SecretBox(const Key& current, std::optional<Key> previous)
    : current_(current), current_id_(KeyId(current)), previous_(previous) {
  if (previous_) previous_id_ = KeyId(*previous_);
}

SecretBox::~SecretBox() {
  sodium_memzero(current_.data(), current_.size());
  if (previous_) sodium_memzero(previous_->data(), previous_->size());
}

SecretBox::SecretBox(SecretBox&&) noexcept = default;
SecretBox& SecretBox::operator=(SecretBox&&) noexcept = default;

std::string SecretBox::KeyId(const Key& key) {
  unsigned char id[8];
  crypto_generichash(id, sizeof(id), reinterpret_cast<const unsigned char*>(kKeyIdContext.data()),
                     kKeyIdContext.size(), key.data(), key.size());
  char hex[17];
  sodium_bin2hex(hex, sizeof(hex), id, sizeof(id));
  return hex;
}

bool SecretBox::Knows(absl::string_view key_id) const {
  return key_id == current_id_ || (previous_ && key_id == previous_id_);
}

SecretBox::Sealed SecretBox::Seal(absl::string_view label, absl::string_view secret) const {
  Sealed out;
  out.key_id = current_id_;
  out.box.resize(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + secret.size());
  auto* nonce = reinterpret_cast<unsigned char*>(out.box.data());
  randombytes_buf(nonce, crypto_secretbox_NONCEBYTES);
  Key k = LabelKey(current_, label);
  crypto_secretbox_easy(nonce + crypto_secretbox_NONCEBYTES,
                        reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), nonce,
                        k.data());
  sodium_memzero(k.data(), k.size());
  return out;
}

absl::StatusOr<std::string> SecretBox::Open(absl::string_view key_id, absl::string_view box,
                                            absl::string_view label) const {
  const Key* key = nullptr;
  if (key_id == current_id_) {
    key = &current_;
  } else if (previous_ && key_id == previous_id_) {
    key = &*previous_;
  } else {
    return absl::FailedPreconditionError(absl::StrCat("sealed under key ", key_id.substr(0, 16),
                                                      ", which is neither the current (",
                                                      current_id_, ") nor the previous key"));
  }
  if (box.size() < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
    return absl::DataLossError("sealed value too short");
  }
  const auto* nonce = reinterpret_cast<const unsigned char*>(box.data());
  const unsigned char* cipher = nonce + crypto_secretbox_NONCEBYTES;
  const size_t cipher_len = box.size() - crypto_secretbox_NONCEBYTES;
  std::string out(cipher_len - crypto_secretbox_MACBYTES, '\0');
  Key k = LabelKey(*key, label);
  const int rc = crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(out.data()), cipher,
                                            cipher_len, nonce, k.data());
  sodium_memzero(k.data(), k.size());
  if (rc != 0) return absl::DataLossError("sealed value does not open (tampered or moved)");
  return out;
}

}  // namespace sluice
