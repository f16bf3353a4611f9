#include "buffer/reading_codec.hpp"

#include "buffer/sqlite_handle.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <fmt/format.h>
#include <stdexcept>

namespace mb::buffer {
namespace {

void put_varint(std::string& out, std::uint64_t v) {
    constexpr unsigned low7 = 0x7fU;
    constexpr unsigned more = 0x80U;
    while (v > low7) {
        out.push_back(static_cast<char>((v & low7) | more));
        v >>= 7U;
    }
    out.push_back(static_cast<char>(v));
}

std::uint64_t get_varint(std::string_view& in) {
    std::uint64_t v = 0;
    unsigned shift = 0;
    while (!in.empty() && shift < 64) {
        const auto b = static_cast<unsigned char>(in.front());
        in.remove_prefix(1);
        v |= static_cast<std::uint64_t>(b & 0x7fU) << shift;
        if ((b & 0x80U) == 0) return v;
        shift += 7;
    }
    throw sqlite_error(SQLITE_CORRUPT, "a stored reading is truncated");
}

std::size_t index_of(model::measurement m) {
    return static_cast<std::size_t>(m);
}

} // namespace

void reading_codec::learn(std::int64_t number, std::string_view name) {
    const auto m = model::measurement_of(name);
    measurements_.insert_or_assign(number, m);
    if (!m) return;
    if (numbers_.size() <= index_of(*m)) numbers_.resize(index_of(*m) + 1, 0);
    numbers_[index_of(*m)] = number;
}

void reading_codec::clear() {
    numbers_.clear();
    measurements_.clear();
}

std::optional<std::int64_t> reading_codec::number_of(model::measurement m) const {
    if (index_of(m) >= numbers_.size() || numbers_[index_of(m)] == 0) return std::nullopt;
    return numbers_[index_of(m)];
}

std::string reading_codec::encode(const std::vector<model::reading_value>& values) const {
    std::string out;
    out.reserve(2 + values.size() * 10);
    put_varint(out, values.size());
    for (const auto& v : values) {
        const auto number = number_of(v.id);
        if (!number) throw std::out_of_range(fmt::format("{} has no number", v.name()));
        put_varint(out, static_cast<std::uint64_t>(*number));
        std::array<char, sizeof(double)> bytes{};
        std::memcpy(bytes.data(), &v.value, sizeof v.value);
        out.append(bytes.data(), bytes.size());
    }
    return out;
}

decoded_body reading_codec::decode(std::string_view body) const {
    decoded_body out;
    const auto n = get_varint(body);
    out.values.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(n, 4096)));
    for (std::uint64_t i = 0; i < n; ++i) {
        const auto number = static_cast<std::int64_t>(get_varint(body));
        if (body.size() < sizeof(double))
            throw sqlite_error(SQLITE_CORRUPT, "a stored reading is truncated");
        double v = 0;
        std::memcpy(&v, body.data(), sizeof v);
        body.remove_prefix(sizeof v);
        const auto it = measurements_.find(number);
        if (it == measurements_.end()) throw sqlite_error(SQLITE_CORRUPT, "an unknown value name");
        if (!it->second) {
            ++out.unknown;
            continue;
        }
        out.values.emplace_back(*it->second, v);
    }
    return out;
}

} // namespace mb::buffer
