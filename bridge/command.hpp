#pragma once
// Downlink commands (docs/commands.md): {"id":…,"set":{name:value,…}} or {"id":…,"read":[…]},
// checked against what the device allows before anything can reach a meter.
#include "model/command_outcome.hpp"
#include "model/device_info.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mb::bridge {

struct command {
    enum class kind : unsigned char { set, read };
    std::string id_json; // the id re-encoded as JSON, echoed in the result as it came
    kind what = kind::set;
    model::named_values set;       // kind::set: name -> value, in order
    std::vector<std::string> read; // kind::read: names
};

struct command_parse {
    std::optional<command> cmd; // set when accepted
    std::string id_json;        // the id when it could be read, even for a refusal
    std::string error;          // the reason of a refusal, naming the value
};

inline constexpr std::size_t max_command_bytes = 4096;
inline constexpr std::size_t max_command_names = 32;

// Whether the gateway takes signed commands (bridge/command_verifier): then the payload given
// here is one the verifier let through, and its "ts" belongs to it. Without signing, "ts"
// and "sig" are refused: a signature nobody checks would only look like protection.
enum class signing : unsigned char { off, on };

// Never throws; every refusal comes back as `error`. A name the device does not have is an
// "unknown value" (for set and read alike); one it has but may not set is "not writable".
command_parse parse_command(std::string_view payload, const model::device_info& device,
                            signing mode = signing::off) noexcept;

} // namespace mb::bridge
