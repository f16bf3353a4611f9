#pragma once
// HMAC-SHA256 from OpenSSL's libcrypto, for signed commands (docs/security.md). Never a
// SHA-256 of our own.
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace mb::bridge {

using mac_sha256 = std::array<std::uint8_t, 32>;

// The MAC of `message` under `key`; nullopt only when libcrypto fails (out of memory).
[[nodiscard]] std::optional<mac_sha256> hmac_sha256(std::string_view key, std::string_view message);

// 64 hex digits (either case) as the 32 bytes they spell; nullopt for anything else.
[[nodiscard]] std::optional<mac_sha256> mac_from_hex(std::string_view hex);

// Equal in time that does not depend on where they differ (CRYPTO_memcmp).
[[nodiscard]] bool same_mac(const mac_sha256& a, const mac_sha256& b);

} // namespace mb::bridge
