// SecretBox encrypts small secrets for storage (ESI access tokens in
// character_tokens) with libsodium's secretbox (XSalsa20-Poly1305, a random
// 24-byte nonce per seal) under a 32-byte key.
//
// Each sealed value is stored beside the id of the key that sealed it (the
// first 8 bytes of a BLAKE2b hash of the key, as 16 hex digits: it names the
// key without revealing it). A box holds the current key, which seals, and
// optionally the previous one, which only opens: rotation is a new current
// key, the old one as previous, and every row sealed again (re-keying).
//
// A seal is bound to a label (the row's identity, e.g. "character:90000001"):
// opening with another label fails, so a ciphertext copied onto another row
// does not decrypt there.
//
// A key is written as 64 hex digits or base64 (`openssl rand -hex 32`,
// `openssl rand -base64 32`), in a file or the environment.
//
// Thread-safety: immutable after construction; Seal and Open from any thread.
#ifndef SLUICE_COMMON_SECRET_BOX_H_
#define SLUICE_COMMON_SECRET_BOX_H_

#include <array>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sluice {

class SecretBox {
 public:
  static constexpr size_t kKeyBytes = 32;
  using Key = std::array<unsigned char, kKeyBytes>;

  struct Sealed {
    std::string key_id;  // 16 hex digits
    std::string box;     // nonce || MAC || ciphertext (binary)
  };

  // The key in `text` (the formats above). INVALID_ARGUMENT says which
  // formats are accepted, never the content.
  static absl::StatusOr<Key> ParseKey(absl::string_view text);
  // From key files; `previous_file` may be empty.
  static absl::StatusOr<SecretBox> FromKeyFiles(const std::string& current_file,
                                                const std::string& previous_file);
  // From key texts (flags or the environment); `previous` may be empty.
  static absl::StatusOr<SecretBox> FromKeyTexts(absl::string_view current,
                                                absl::string_view previous);

  SecretBox(const Key& current, std::optional<Key> previous);
  ~SecretBox();
  SecretBox(SecretBox&&) noexcept;
  SecretBox& operator=(SecretBox&&) noexcept;

  const std::string& current_key_id() const { return current_id_; }
  // Whether a value sealed under key_id can be opened here.
  bool Knows(absl::string_view key_id) const;

  Sealed Seal(absl::string_view label, absl::string_view secret) const;
  // The secret; FAILED_PRECONDITION when key_id is neither key here,
  // DATA_LOSS when the box does not open (tampered, wrong label or key).
  absl::StatusOr<std::string> Open(absl::string_view key_id, absl::string_view box,
                                   absl::string_view label) const;

  static std::string KeyId(const Key& key);

 private:
  Key current_;
  std::string current_id_;
  std::optional<Key> previous_;
  std::string previous_id_;
};

}  // namespace sluice

#endif  // SLUICE_COMMON_SECRET_BOX_H_
