#pragma once
// Signing commands as a cloud sender does (docs/security.md), for the tests of the verifier
// and of the downlink: BODY with ,"sig":"<HMAC-SHA256 of TOPIC \n BODY>"} in place of its
// closing brace.
#include "bridge/hmac_sha256.hpp"
#include "common/clock.hpp"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdint>
#include <fmt/format.h>
#include <string>

namespace mbtest {

inline const std::string command_key = "0123456789abcdef0123456789abcdef-test-key";

// A wall clock the test sets.
struct set_clock final : mb::common::clock {
    std::int64_t now = 1764095000000;
    [[nodiscard]] std::int64_t unix_ms() const override { return now; }
    [[nodiscard]] std::chrono::steady_clock::time_point steady() const override {
        return std::chrono::steady_clock::now();
    }
};

inline std::string hex(const mb::bridge::mac_sha256& mac) {
    std::string out;
    for (const auto b : mac)
        out += fmt::format("{:02x}", b);
    return out;
}

inline std::string sign(const std::string& body, const std::string& topic,
                        const std::string& key = command_key) {
    const auto mac = mb::bridge::hmac_sha256(key, topic + "\n" + body);
    BOOST_REQUIRE(mac.has_value());
    return body.substr(0, body.size() - 1) + R"(,"sig":")" + hex(*mac) + R"("})";
}

} // namespace mbtest
