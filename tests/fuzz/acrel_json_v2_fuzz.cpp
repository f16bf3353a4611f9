// Fuzz target for the acrel-json-v2 decoder (docs/native.md): whatever a meter or a
// stranger publishes, decode() answers without a crash, a throw or an unbounded tree, and the
// answer holds together (decoder_checks.hpp). json-v2 never reports a meter state.
#include "tests/fuzz/decoder_checks.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

const mb::drivers::native::decoder& json_v2() {
    static const auto d = [] {
        mb::drivers::native::format_settings s;
        s.format = "acrel-json-v2";
        return mb::drivers::native::make_decoder(s);
    }();
    return *d;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const auto units = json_v2().units();
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const auto r = json_v2().decode("platform/acrel/meter/json-v2/analog/0000", in);
    mb::fuzz::check_decoded(r, size, units);
    for (const auto& reading : r.readings)
        if (reading.state.has_value()) std::abort();
    return 0;
}
