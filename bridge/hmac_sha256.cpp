#include "bridge/hmac_sha256.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace mb::bridge {
namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

} // namespace

std::optional<mac_sha256> hmac_sha256(std::string_view key, std::string_view message) {
    mac_sha256 out{};
    unsigned int length = 0;
    // An empty key is a valid HMAC key, but HMAC() takes a null pointer for "no key": keep
    // the pointer valid whatever the length.
    static constexpr unsigned char none = 0;
    const auto* key_bytes =
        key.empty() ? &none : reinterpret_cast<const unsigned char*>(key.data());
    if (HMAC(EVP_sha256(), key_bytes, static_cast<int>(key.size()),
             reinterpret_cast<const unsigned char*>(message.data()), message.size(), out.data(),
             &length) == nullptr ||
        length != out.size())
        return std::nullopt;
    return out;
}

std::optional<mac_sha256> mac_from_hex(std::string_view hex) {
    mac_sha256 out{};
    if (hex.size() != out.size() * 2) return std::nullopt;
    for (std::size_t i = 0; i < out.size(); ++i) {
        const int high = hex_value(hex[2 * i]);
        const int low = hex_value(hex[(2 * i) + 1]);
        if (high < 0 || low < 0) return std::nullopt;
        out[i] = static_cast<std::uint8_t>((high << 4) | low);
    }
    return out;
}

bool same_mac(const mac_sha256& a, const mac_sha256& b) {
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

} // namespace mb::bridge
