#include "daemon/config/load_profile.hpp"

#include "daemon/config/profile_value_checks.hpp"
#include "daemon/config/toml_file.hpp"
#include "daemon/config/toml_reader.hpp"
#include "model/measurements.hpp"

#include <cmath>
#include <fmt/format.h>
#include <map>

namespace mb::config {
namespace rtu = drivers::rtu;
namespace {

// Where each value came from, for errors that relate two values.
struct located_value {
    rtu::value_def def;
    std::string path;               // "value[3]"
    toml::source_region address_at; // the address node
    toml::source_region name_at;    // the name node
};

std::optional<rtu::function_code> read_function(toml_reader& r) {
    return r.choice<rtu::function_code>("function", {{"holding", rtu::function_code::holding},
                                                     {"input", rtu::function_code::input}});
}

std::optional<located_value> read_value(toml_reader& r, const rtu::profile& p) {
    located_value v;
    v.path = r.path();
    v.def.function = p.function;
    bool ok = true;
    if (const auto name = r.string("name", true)) {
        v.def.name = *name;
        v.name_at = r.table().get("name")->source();
        if (!model::unit_of(*name)) {
            r.errors().add(
                *r.table().get("name"), r.key("name"),
                fmt::format("\"{}\" is not a measurement name (the names of "
                            "docs/measurements.md, e.g. voltage_l1, energy_import_total)",
                            *name));
        }
    } else {
        ok = false;
    }
    if (const auto a = r.integer("address", 0, 65535, true)) {
        v.def.address = static_cast<std::uint16_t>(*a);
        v.address_at = r.table().get("address")->source();
    } else {
        ok = false;
    }
    if (const auto* t = r.get("type")) {
        const auto* s = t->as_string();
        const auto parsed = s != nullptr ? rtu::parse_value_type(s->get()) : std::nullopt;
        if (parsed) {
            v.def.type = *parsed;
        } else {
            r.errors().add(*t, r.key("type"),
                           fmt::format("{} is not a value type (u16 | i16 | u32 | i32 | u64 | "
                                       "i64 | f32 | f64 | bits)",
                                       s != nullptr ? "\"" + s->get() + "\""
                                                    : std::string(describe(t->type()))));
            ok = false;
        }
    }
    if (const auto f = read_function(r)) v.def.function = *f;
    if (const auto s = r.number("scale")) {
        if (*s == 0 || !std::isfinite(*s))
            r.errors().add(
                *r.table().get("scale"), r.key("scale"),
                fmt::format("{} is not a usable scale (a finite number other than 0)", *s));
        else
            v.def.scale = *s;
    }
    if (const auto k = r.choice<rtu::ratio_kind>("ratio", {{"none", rtu::ratio_kind::none},
                                                           {"pt", rtu::ratio_kind::pt},
                                                           {"ct", rtu::ratio_kind::ct},
                                                           {"ptct", rtu::ratio_kind::ptct}}))
        v.def.ratio = *k;
    if (const auto b = r.integer("bit", 0, 15)) {
        v.def.bit = static_cast<int>(*b);
        if (v.def.type != rtu::value_type::bits)
            r.errors().add(*r.table().get("bit"), r.key("bit"),
                           "bit is only allowed with type = \"bits\" (remove it, or set type)");
    }
    v.def.writable = r.boolean("writable").value_or(false);
    v.def.is_static = r.boolean("static").value_or(false);
    v.def.wraps = r.boolean("wraps").value_or(false);
    v.def.min = r.number("min");
    v.def.max = r.number("max");
    for (const auto* k : {"min", "max"})
        if (!v.def.writable && r.table().get(k) != nullptr)
            r.errors().add(*r.table().get(k), r.key(k),
                           fmt::format("{} is only allowed with writable = true", k));
    if (v.def.min && v.def.max && *v.def.min > *v.def.max)
        r.errors().add(
            *r.table().get("min"), r.key("min"),
            fmt::format("min {} is greater than max {} (min <= max)", *v.def.min, *v.def.max));
    const int count = rtu::register_count(v.def.type);
    if (ok && v.def.address + count - 1 > 65535)
        r.errors().add(v.address_at, r.key("address"),
                       fmt::format("{} registers from {} run past 65535", count, v.def.address));
    if (ok && count > p.max_read)
        r.errors().add(r.table().get("type") != nullptr ? r.table().get("type")->source()
                                                        : v.address_at,
                       r.key("type"),
                       fmt::format("{} needs {} registers but max_read is {}: it can never be "
                                   "read (raise max_read or use a smaller type)",
                                   rtu::to_string(v.def.type), count, p.max_read));
    if (ok) check_value_meaning(r, v.def, p);
    r.finish();
    if (!ok) return std::nullopt;
    return v;
}

std::string register_range(const rtu::value_def& v) {
    const int count = rtu::register_count(v.type);
    if (count == 1) return fmt::format("register {:#x}", v.address);
    return fmt::format("registers {:#x}..{:#x}", v.address, v.address + count - 1);
}

// Duplicate names, and values of one function code that share registers (only two `bits`
// values may share one, on different bits).
void check_values(const std::vector<located_value>& values, error_list& errors) {
    std::map<std::string, std::string> names;
    for (std::size_t j = 0; j < values.size(); ++j) {
        const auto& b = values[j];
        if (const auto [it, fresh] = names.emplace(b.def.name, b.path); !fresh)
            errors.add(b.name_at, b.path + ".name",
                       fmt::format("\"{}\" is already defined by {} (each name once)", b.def.name,
                                   it->second));
        for (std::size_t i = 0; i < j; ++i) {
            const auto& a = values[i];
            if (a.def.function != b.def.function) continue;
            const int a_end = a.def.address + rtu::register_count(a.def.type);
            const int b_end = b.def.address + rtu::register_count(b.def.type);
            if (a.def.address >= b_end || b.def.address >= a_end) continue;
            const bool both_bits =
                a.def.type == rtu::value_type::bits && b.def.type == rtu::value_type::bits;
            if (both_bits && a.def.bit != b.def.bit) continue;
            errors.add(b.address_at, b.path + ".address",
                       both_bits ? fmt::format("bit {} of register {} is already read by {} "
                                               "({}) (a different bit or register)",
                                               b.def.bit, b.def.address, a.path, a.def.name)
                                 : fmt::format("{} overlaps {} of {} ({}) (values may not share "
                                               "registers, except two bits values)",
                                               register_range(b.def), register_range(a.def), a.path,
                                               a.def.name));
            break;
        }
    }
}

} // namespace

profile_result load_profile(const std::filesystem::path& file) {
    std::vector<config_error> out;
    auto root = parse_toml_file(file, out);
    if (!root) return out;
    error_list errors(file, out);
    toml_reader r(*root, "", errors);
    rtu::profile p;
    if (const auto id = r.string("id", true)) {
        p.id = *id;
        if (p.id != file.stem().string())
            errors.add(*root->get("id"), "id",
                       fmt::format(R"("{}" does not match the file name (id = "{}"))", p.id,
                                   file.stem().string()));
    }
    p.vendor = r.string("vendor").value_or("");
    p.model = r.string("model").value_or("");
    p.function = read_function(r).value_or(p.function);
    p.order = r.choice<rtu::word_order>("word_order", {{"high_first", rtu::word_order::high_first},
                                                       {"low_first", rtu::word_order::low_first}})
                  .value_or(p.order);
    p.max_read = static_cast<int>(r.integer("max_read", 1, 125).value_or(p.max_read));
    p.secondary =
        r.choice<bool>("ratios", {{"secondary", true}, {"primary", false}}).value_or(p.secondary);
    const std::size_t before = errors.count();
    const auto tables = r.tables("value");
    if (tables.empty() && errors.count() == before)
        errors.add(root->source(), "value", "a profile needs at least one [[value]]");
    std::vector<located_value> values;
    for (const auto& [index, table] : tables) {
        toml_reader vr(*table, fmt::format("value[{}]", index), errors);
        if (auto v = read_value(vr, p)) values.push_back(std::move(*v));
    }
    r.finish();
    check_values(values, errors);
    if (!out.empty()) return out;
    for (auto& v : values)
        p.values.push_back(std::move(v.def));
    return p;
}

std::optional<std::filesystem::path> find_profile(std::string_view id,
                                                  const std::vector<std::filesystem::path>& dirs,
                                                  const std::filesystem::path& base) {
    for (const auto& dir : dirs) {
        const auto file = (dir.is_relative() ? base / dir : dir) / (std::string(id) + ".toml");
        std::error_code ec;
        if (std::filesystem::exists(file, ec)) return file;
    }
    return std::nullopt;
}

} // namespace mb::config
