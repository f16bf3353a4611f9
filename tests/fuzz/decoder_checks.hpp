#pragma once
// What every native decoder's answer must hold, whatever the payload (the three *_fuzz.cpp
// decoder targets): a payload over the limit gives only an error; error texts are printable
// ASCII (they go to logs and status payloads); serials are non-empty; every value's name is
// one units() announces, in that unit, the kilo one the normalizer converts, or none.
#include "drivers/native/decoder.hpp"

#include <cstdlib>
#include <map>
#include <string>

namespace mb::fuzz {

inline void check_decoded(const drivers::native::decode_result& r, std::size_t payload_size,
                          const std::map<std::string, std::string>& units) {
    if (payload_size > drivers::native::max_payload_bytes &&
        (r.error.empty() || !r.readings.empty()))
        std::abort();
    for (const char c : r.error)
        if (c < 0x20 || c > 0x7e) std::abort();
    for (const auto& reading : r.readings) {
        if (reading.serial.empty()) std::abort();
        for (const char c : reading.serial)
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) std::abort();
        for (const auto& v : reading.values) {
            const auto unit = units.find(std::string(v.name));
            if (unit == units.end()) std::abort();
            if (!v.unit.empty() && v.unit != unit->second && v.unit != "k" + unit->second)
                std::abort();
        }
    }
}

} // namespace mb::fuzz
