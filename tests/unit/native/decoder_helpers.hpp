#pragma once
// What the decoder tests share: a decoder by format name, and one value looked up by name.
#include "drivers/native/decoder.hpp"

#include <boost/test/unit_test.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

// Boost.Test prints optionals in its failure messages.
template <class T> struct boost::test_tools::tt_detail::print_log_value<std::optional<T>> {
    void operator()(std::ostream& out, const std::optional<T>& v) {
        if (v)
            out << *v;
        else
            out << "nullopt";
    }
};

namespace mb::drivers::native::testing {

inline std::unique_ptr<decoder> make(std::string_view format) {
    format_settings s;
    s.format = format;
    auto d = make_decoder(s);
    BOOST_TEST_REQUIRE(d != nullptr);
    return d;
}

// The one value called `name` in `r` (nullopt when absent; a test failure when twice).
inline std::optional<decoded_value> value_of(const decoded_reading& r, std::string_view name) {
    std::optional<decoded_value> found;
    for (const auto& v : r.values) {
        if (v.name != name) continue;
        BOOST_TEST(!found.has_value(), name << " is there twice");
        found = v;
    }
    return found;
}

// value_of that must be there: its number and unit as "230.5 V".
inline std::string shown(const decoded_reading& r, std::string_view name) {
    const auto v = value_of(r, name);
    if (!v) return "absent";
    std::ostringstream out;
    out << v->value << ' ' << v->unit;
    return out.str();
}

inline std::string payload_of_size(std::size_t size) {
    // {"data":[],"pad":"xxxx…"}: valid JSON of exactly `size` bytes
    const std::string head = R"({"data":[],"pad":")";
    const std::string tail = R"("})";
    return head + std::string(size - head.size() - tail.size(), 'x') + tail;
}

inline std::string nested_arrays(int depth) {
    return std::string(static_cast<std::size_t>(depth), '[') +
           std::string(static_cast<std::size_t>(depth), ']');
}

} // namespace mb::drivers::native::testing
