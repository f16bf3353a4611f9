#include "daemon/config/toml_reader.hpp"

#include "daemon/config/quantity.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace mb::config {

void error_list::add(const toml::source_region& where, std::string key, std::string message) {
    // A node built without a position (the root table) points at the top of the file.
    const int line = where.begin.line == 0 ? 1 : static_cast<int>(where.begin.line);
    const int column = where.begin.column == 0 ? 1 : static_cast<int>(where.begin.column);
    out_.push_back({file_, line, column, std::move(key), std::move(message)});
}

std::string_view describe(toml::node_type t) {
    switch (t) {
    case toml::node_type::table:
        return "a table";
    case toml::node_type::array:
        return "an array";
    case toml::node_type::string:
        return "a string";
    case toml::node_type::integer:
        return "an integer";
    case toml::node_type::floating_point:
        return "a float";
    case toml::node_type::boolean:
        return "a boolean";
    case toml::node_type::date:
        return "a date";
    case toml::node_type::time:
        return "a time";
    case toml::node_type::date_time:
        return "a date-time";
    default:
        return "nothing";
    }
}

bool valid_name(std::string_view s) {
    const auto ok = [](char c, bool first) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               (!first && (c == '_' || c == '-'));
    };
    if (s.empty() || s.size() > 64) return false;
    for (std::size_t i = 0; i < s.size(); ++i)
        if (!ok(s[i], i == 0)) return false;
    return true;
}

std::string toml_reader::key(std::string_view k) const {
    return path_.empty() ? std::string(k) : fmt::format("{}.{}", path_, k);
}

const toml::node* toml_reader::get(std::string_view k, bool required, std::string_view what) {
    known_.emplace_back(k);
    const auto* node = table_.get(k);
    if (node == nullptr && required)
        errors_.add(table_.source(), key(k),
                    what.empty() ? std::string("required key is missing")
                                 : fmt::format("required key is missing ({})", what));
    return node;
}

void toml_reader::wrong_type(const toml::node& node, std::string_view k,
                             std::string_view expected) {
    errors_.add(node, key(k),
                fmt::format("{} where {} is expected", describe(node.type()), expected));
}

std::optional<std::string> toml_reader::string(std::string_view k, bool required) {
    const auto* node = get(k, required, "a string");
    if (node == nullptr) return std::nullopt;
    if (const auto* s = node->as_string()) return s->get();
    wrong_type(*node, k, "a string");
    return std::nullopt;
}

std::optional<std::string> toml_reader::name(std::string_view k, bool required) {
    const auto* node = get(k, required, fmt::format("a name: {}", name_syntax));
    if (node == nullptr) return std::nullopt;
    const auto* s = node->as_string();
    if (s == nullptr) {
        wrong_type(*node, k, "a string");
        return std::nullopt;
    }
    if (!valid_name(s->get())) {
        errors_.add(*node, key(k),
                    fmt::format("\"{}\" is not a valid name ({})", s->get(), name_syntax));
        return std::nullopt;
    }
    return s->get();
}

std::optional<std::int64_t> toml_reader::integer(std::string_view k, std::int64_t lo,
                                                 std::int64_t hi, bool required) {
    const auto* node = get(k, required, fmt::format("an integer {}..{}", lo, hi));
    if (node == nullptr) return std::nullopt;
    const auto* i = node->as_integer();
    if (i == nullptr) {
        wrong_type(*node, k, fmt::format("an integer {}..{}", lo, hi));
        return std::nullopt;
    }
    if (i->get() < lo || i->get() > hi) {
        errors_.add(*node, key(k), fmt::format("{} is out of range ({}..{})", i->get(), lo, hi));
        return std::nullopt;
    }
    return i->get();
}

std::optional<double> toml_reader::number(std::string_view k, bool required) {
    const auto* node = get(k, required, "a number");
    if (node == nullptr) return std::nullopt;
    if (const auto* i = node->as_integer()) return static_cast<double>(i->get());
    if (const auto* f = node->as_floating_point()) return f->get();
    wrong_type(*node, k, "a number");
    return std::nullopt;
}

std::optional<bool> toml_reader::boolean(std::string_view k) {
    const auto* node = get(k);
    if (node == nullptr) return std::nullopt;
    if (const auto* b = node->as_boolean()) return b->get();
    wrong_type(*node, k, "true or false");
    return std::nullopt;
}

template <typename T>
std::optional<toml_reader::quantity_text<T>>
toml_reader::quantity(std::string_view k, std::string_view what, std::string_view syntax,
                      parsed<T> (*parse)(std::string_view)) {
    const auto* node = get(k);
    if (node == nullptr) return std::nullopt;
    const auto* s = node->as_string();
    if (s == nullptr) {
        wrong_type(*node, k, fmt::format("a {} string ({})", what, syntax));
        return std::nullopt;
    }
    auto v = parse(s->get());
    if (!v.ok()) {
        errors_.add(*node, key(k), fmt::format("{} ({})", v.error, syntax));
        return std::nullopt;
    }
    return quantity_text<T>{v.value, node, s->get()};
}

std::optional<std::chrono::milliseconds> toml_reader::duration(std::string_view k,
                                                               std::chrono::milliseconds lo,
                                                               std::chrono::milliseconds hi) {
    const auto d = quantity(k, "duration", duration_syntax, &parse_duration);
    if (!d) return std::nullopt;
    if (d->value < lo || d->value > hi) {
        const std::string range =
            hi == std::chrono::milliseconds::max()
                ? fmt::format("at least {}", format_duration(lo))
                : fmt::format("{}..{}", format_duration(lo), format_duration(hi));
        errors_.add(*d->node, key(k), fmt::format("\"{}\" is out of range ({})", d->text, range));
        return std::nullopt;
    }
    return d->value;
}

std::optional<std::uint64_t> toml_reader::size(std::string_view k, std::uint64_t lo) {
    const auto v = quantity(k, "size", size_syntax, &parse_size);
    if (!v) return std::nullopt;
    if (v->value < lo) {
        errors_.add(*v->node, key(k),
                    fmt::format("\"{}\" is too small (at least {} bytes)", v->text, lo));
        return std::nullopt;
    }
    return v->value;
}

std::optional<double> toml_reader::power(std::string_view k) {
    const auto v = quantity(k, "power", power_syntax, &parse_power);
    if (!v) return std::nullopt;
    if (v->value == 0) {
        errors_.add(*v->node, key(k),
                    fmt::format("\"{}\" is out of range (more than 0 W)", v->text));
        return std::nullopt;
    }
    return static_cast<double>(v->value);
}

const toml::table* toml_reader::sub_table(std::string_view k) {
    const auto* node = get(k);
    if (node == nullptr) return nullptr;
    if (const auto* t = node->as_table()) return t;
    wrong_type(*node, k, fmt::format("a table ([{}])", key(k)));
    return nullptr;
}

const toml::array* toml_reader::array(std::string_view k) {
    const auto* node = get(k);
    if (node == nullptr) return nullptr;
    if (const auto* a = node->as_array()) return a;
    wrong_type(*node, k, "an array");
    return nullptr;
}

std::vector<toml_reader::indexed_table> toml_reader::tables(std::string_view k) {
    std::vector<indexed_table> out;
    const auto* node = get(k);
    if (node == nullptr) return out;
    const auto* a = node->as_array();
    if (a == nullptr) {
        wrong_type(*node, k, fmt::format("an array of tables ([[{}]])", key(k)));
        return out;
    }
    for (std::size_t i = 0; i < a->size(); ++i) {
        const auto& element = *a->get(i);
        if (const auto* t = element.as_table())
            out.push_back({i, t});
        else
            errors_.add(element, fmt::format("{}[{}]", key(k), i),
                        fmt::format("{} where a table is expected", describe(element.type())));
    }
    return out;
}

void toml_reader::finish() {
    std::string accepted;
    for (std::size_t i = 0; i < known_.size(); ++i) {
        if (std::find(known_.begin(), known_.begin() + static_cast<std::ptrdiff_t>(i), known_[i]) !=
            known_.begin() + static_cast<std::ptrdiff_t>(i))
            continue; // asked twice
        if (!accepted.empty()) accepted += ", ";
        accepted += known_[i];
    }
    for (const auto& [k, node] : table_) {
        if (std::find(known_.begin(), known_.end(), k.str()) != known_.end()) continue;
        errors_.add(k.source(), key(k.str()),
                    fmt::format("unknown key (accepted here: {})", accepted));
    }
}

} // namespace mb::config
