// Fuzz target for the acrel-shadow decoder (docs/native.md): whatever a gateway or a
// stranger publishes, decode() answers without a crash, a throw or an unbounded tree, and the
// answer holds together (decoder_checks.hpp). The shadow dialect never carries an ICCID.
#include "tests/fuzz/decoder_checks.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

const mb::drivers::native::decoder& shadow() {
    static const auto d = [] {
        mb::drivers::native::format_settings s;
        s.format = "acrel-shadow";
        return mb::drivers::native::make_decoder(s);
    }();
    return *d;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const auto units = shadow().units();
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const auto r = shadow().decode("data/up/pk/24120405680002", in);
    mb::fuzz::check_decoded(r, size, units);
    for (const auto& reading : r.readings)
        if (reading.iccid.has_value()) std::abort();
    return 0;
}
