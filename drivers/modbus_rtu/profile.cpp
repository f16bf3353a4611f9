#include "drivers/modbus_rtu/profile.hpp"

#include <array>
#include <utility>

namespace mb::drivers::rtu {
namespace {
constexpr std::array type_names = {
    std::pair{value_type::u16, std::string_view{"u16"}},
    std::pair{value_type::i16, std::string_view{"i16"}},
    std::pair{value_type::u32, std::string_view{"u32"}},
    std::pair{value_type::i32, std::string_view{"i32"}},
    std::pair{value_type::u64, std::string_view{"u64"}},
    std::pair{value_type::i64, std::string_view{"i64"}},
    std::pair{value_type::f32, std::string_view{"f32"}},
    std::pair{value_type::f64, std::string_view{"f64"}},
    std::pair{value_type::bits, std::string_view{"bits"}},
};
} // namespace

std::string_view to_string(value_type t) {
    for (const auto& [type, name] : type_names)
        if (type == t) return name;
    return "?";
}

std::optional<value_type> parse_value_type(std::string_view s) {
    for (const auto& [type, name] : type_names)
        if (name == s) return type;
    return std::nullopt;
}

} // namespace mb::drivers::rtu
