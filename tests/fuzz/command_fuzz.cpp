// Fuzz target for downlink command JSON (docs/commands.md,
// docs/contributing.md#fuzz-every-parser-of-outside-input): whatever arrives on {p}/{gw}/{dev}/cmd,
// the parser answers with a command or a reason, never a crash, and an accepted command only ever
// names writable values within their range. A refusal that names a value tells it right: "unknown
// value" only for one the device does not have, "not writable" only for one it has but may not set.
// The signature check that stands in front of the parser with [uplink] command_key_file
// (docs/security.md) takes the same input first: never a crash, and what it lets through is the
// payload without its "sig" member.
#include "bridge/command.hpp"
#include "bridge/command_verifier.hpp"
#include "bridge/payloads.hpp"

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace {

const mb::model::device_info& device() {
    static const mb::model::device_info d = [] {
        mb::model::device_info i;
        i.name = "incomer";
        i.units = {{"do_1", "1"}, {"do_2", "1"}, {"voltage_l1", "V"}, {"x", "1"}};
        i.writable = {{"do_1", {0.0, 1.0}}, {"do_2", {std::nullopt, 10.0}}};
        return i;
    }();
    return d;
}

// The time corpus/command/signed.json was signed at.
struct fixed_clock final : mb::common::clock {
    [[nodiscard]] std::int64_t unix_ms() const override { return 1764095000000; }
    [[nodiscard]] std::chrono::steady_clock::time_point steady() const override {
        return std::chrono::steady_clock::now();
    }
};

void check_signature(std::string_view in) {
    static const fixed_clock clock;
    static mb::bridge::command_verifier verifier("fuzz-key-0123456789abcdef0123456789", clock);
    const auto v = verifier.check("mb/gw1/incomer/cmd", in);
    if (v.error.empty() == v.body.empty()) std::abort(); // a body exactly when accepted
    if (!v.error.empty()) return;
    // the body is the payload up to its ,"sig":"…" member, closed again
    const auto cut = in.rfind(R"(,"sig":")");
    if (cut == std::string_view::npos || v.body != std::string(in.substr(0, cut)) + "}")
        std::abort();
    const auto r = mb::bridge::parse_command(v.body, device(), mb::bridge::signing::on);
    if (r.cmd.has_value() == !r.error.empty()) std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    check_signature(in);
    const auto r = mb::bridge::parse_command(in, device());
    if (r.cmd.has_value() == !r.error.empty()) std::abort(); // exactly one of the two
    if (r.cmd) {
        for (const auto& [name, v] : r.cmd->set) {
            const auto w = device().writable.find(name);
            if (w == device().writable.end()) std::abort();
            if ((w->second.min && v < *w->second.min) || (w->second.max && v > *w->second.max))
                std::abort();
        }
        for (const auto& name : r.cmd->read)
            if (!device().units.contains(name)) std::abort();
    }
    for (const std::string_view kind : {": unknown value", ": not writable"}) {
        const std::string_view e = r.error;
        if (e.size() <= kind.size() || !e.ends_with(kind)) continue;
        const std::string name(e.substr(0, e.size() - kind.size()));
        const bool has = device().units.contains(name);
        const bool writable = device().writable.contains(name);
        if (kind == ": unknown value" ? has : (!has || writable)) std::abort();
    }
    // Whatever the answer, the result payload must be valid JSON.
    const auto answer = r.cmd ? mb::bridge::cmd_ok_payload(r.id_json)
                              : mb::bridge::cmd_error_payload(r.id_json, r.error);
    if (!nlohmann::json::accept(answer)) std::abort();
    return 0;
}
