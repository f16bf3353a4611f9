#pragma once
// Register codec: raw Modbus registers <-> engineering values (docs/profiles.md).
// Bytes within a register are big-endian as on the wire; word_order picks the order of the
// registers of a 32/64-bit value. Scaling keeps decimals clean: 2301 x 0.1 gives the double
// nearest to 230.1, the same one "230.1" parses to, so the payload prints 230.1.
#include "drivers/modbus_rtu/profile.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace mb::drivers::rtu {

// The raw number held by `regs` (exactly register_count(type) registers, else nullopt):
// integers exactly (64-bit ones rounded to double), f32 by its shortest decimal form, bits as
// 0/1. NaN and infinities come back as they are; decode_value() is the one that drops them.
std::optional<double> decode_raw(std::span<const std::uint16_t> regs, value_type type,
                                 word_order order, int bit = 0);

// raw x factor, where factor is the product of a profile scale and PT/CT ratios, with the
// product rounded to the decimal digits the factor implies (factor = m / 10^d).
double scale_clean(double raw, double factor);

// The PT/CT multiplier a value marked `kind` gets.
double ratio_factor(ratio_kind kind, double pt, double ct);

// decode_raw, then the scale and the ratio multiplier; nullopt for short input and for
// NaN/infinity (the caller counts those as errors).
std::optional<double> decode_value(std::span<const std::uint16_t> regs, const value_def& def,
                                   word_order order, double ratio = 1.0);

// A value for a write, as registers; error text instead when the value is not finite, has
// more decimals than the scale allows, or does not fit the type after un-scaling.
struct encoded {
    std::vector<std::uint16_t> regs;
    std::string error; // empty: ok
    [[nodiscard]] bool ok() const { return error.empty(); }
};
encoded encode_value(double value, const value_def& def, word_order order);

} // namespace mb::drivers::rtu
