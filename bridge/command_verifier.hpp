#pragma once
// Signed commands (docs/security.md). With [uplink] command_key_file set, a command is let
// through only when
//   - its payload ends with the member ,"sig":"<64 hex digits>"} and those digits are the
//     HMAC-SHA256, under the key, of TOPIC "\n" BODY: the command's topic, a newline, and the
//     payload with that member taken out (BODY ends in the "}" that followed it);
//   - BODY carries "ts", Unix milliseconds, within `window` of the gateway's clock either way
//     and not before the verifier was made (what came before is no longer remembered);
//   - its id was not already used on that topic within the window (a replay).
// Everything else is refused with a reason, before the command is even parsed: nothing a
// sender without the key publishes reaches a meter. Loop thread only.
#include "common/clock.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace mb::bridge {

struct verified_command {
    std::string body;  // the payload without its signature: what parse_command reads
    std::string error; // why it is refused, for the cmd/result; empty: accepted
};

class command_verifier {
public:
    static constexpr std::chrono::milliseconds window = std::chrono::minutes(5);
    // Ids remembered within one window; past that, signed commands are refused until the
    // oldest age out (nobody without the key can fill it).
    static constexpr std::size_t max_remembered = 4096;

    // `key`: the secret, as bytes (never logged). The clock must outlive the verifier.
    command_verifier(std::string key, const common::clock& clock);

    // Never throws; every refusal comes back as `error`.
    verified_command check(std::string_view topic, std::string_view payload) noexcept;

private:
    verified_command verify(std::string_view topic, std::string_view payload);
    [[nodiscard]] std::string check_time(std::int64_t ts, std::int64_t now) const;
    std::string remember(const std::string& key, std::int64_t ts, std::int64_t now);

    std::string key_;
    const common::clock& clock_;
    std::int64_t started_ms_;
    std::map<std::string, std::int64_t> seen_; // topic "\n" id -> its ts
};

} // namespace mb::bridge
