#include "drivers/native/decoder.hpp"

#include "drivers/native/acrel_json_v2_decoder.hpp"
#include "drivers/native/acrel_shadow_decoder.hpp"
#include "drivers/native/json_map_decoder.hpp"

namespace mb::drivers::native {

std::unique_ptr<decoder> make_decoder(const format_settings& settings) {
    if (settings.format == "acrel-json-v2") return std::make_unique<acrel_json_v2_decoder>();
    if (settings.format == "acrel-shadow") return std::make_unique<acrel_shadow_decoder>();
    if (settings.format == "json") return std::make_unique<json_map_decoder>(settings);
    return nullptr;
}

} // namespace mb::drivers::native
