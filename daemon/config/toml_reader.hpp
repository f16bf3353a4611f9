#pragma once
// Strict, error-collecting access to one TOML table. Every getter records the key as known;
// finish() then reports every key that nobody asked for. Errors carry the file, line and
// column of the offending node and a dotted key such as "device[2].unit".
#include "daemon/config/load_config.hpp"
#include "daemon/config/quantity.hpp"

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <toml++/toml.h>
#include <utility>
#include <vector>

namespace mb::config {

// The errors found in one file.
class error_list {
public:
    error_list(std::filesystem::path file, std::vector<config_error>& out)
        : file_(std::move(file))
        , out_(out) {}

    void add(const toml::source_region& where, std::string key, std::string message);
    void add(const toml::node& where, std::string key, std::string message) {
        add(where.source(), std::move(key), std::move(message));
    }
    [[nodiscard]] const std::filesystem::path& file() const { return file_; }
    [[nodiscard]] std::size_t count() const { return out_.size(); }

private:
    std::filesystem::path file_;
    std::vector<config_error>& out_;
};

// "a string", "an integer", ...: how a TOML type is named in messages.
std::string_view describe(toml::node_type t);

// [a-z0-9][a-z0-9_-]{0,63}: gateway ids, device, bus and native names, profile ids.
bool valid_name(std::string_view s);
inline constexpr std::string_view name_syntax =
    "1 to 64 of a-z 0-9 _ -, starting with a letter or digit";

class toml_reader {
public:
    toml_reader(const toml::table& table, std::string path, error_list& errors)
        : table_(table)
        , path_(std::move(path))
        , errors_(errors) {}

    // "device[2].unit" for key "unit".
    [[nodiscard]] std::string key(std::string_view k) const;
    [[nodiscard]] const std::string& path() const { return path_; }
    [[nodiscard]] const toml::table& table() const { return table_; }
    [[nodiscard]] error_list& errors() { return errors_; }

    // The node under k (or nullptr), now known. required: report it when absent.
    const toml::node* get(std::string_view k, bool required = false, std::string_view what = {});

    std::optional<std::string> string(std::string_view k, bool required = false);
    std::optional<std::string> name(std::string_view k, bool required = false); // name_syntax
    std::optional<std::int64_t> integer(std::string_view k, std::int64_t lo, std::int64_t hi,
                                        bool required = false);
    std::optional<double> number(std::string_view k, bool required = false); // int or float
    std::optional<bool> boolean(std::string_view k);
    std::optional<std::chrono::milliseconds>
    duration(std::string_view k, std::chrono::milliseconds lo,
             std::chrono::milliseconds hi = std::chrono::milliseconds::max());
    std::optional<std::uint64_t> size(std::string_view k, std::uint64_t lo);
    std::optional<double> power(std::string_view k); // in W, > 0
    const toml::table* sub_table(std::string_view k);
    const toml::array* array(std::string_view k);
    // [[k]]: each element that is a table, with its index; others are reported.
    struct indexed_table {
        std::size_t index;
        const toml::table* table;
    };
    std::vector<indexed_table> tables(std::string_view k);

    template <typename E>
    std::optional<E> choice(std::string_view k,
                            std::initializer_list<std::pair<std::string_view, E>> options,
                            bool required = false) {
        const auto* node = get(k, required, "one of " + join(options));
        if (node == nullptr) return std::nullopt;
        const auto* s = node->as_string();
        if (s != nullptr)
            for (const auto& [word, value] : options)
                if (s->get() == word) return value;
        const std::string got =
            s != nullptr ? "\"" + s->get() + "\"" : std::string(describe(node->type()));
        errors_.add(*node, key(k), got + " is not accepted (one of " + join(options) + ")");
        return std::nullopt;
    }

    // Reports every key of the table that no getter asked for.
    void finish();

private:
    template <typename E>
    static std::string join(std::initializer_list<std::pair<std::string_view, E>> options) {
        std::string out;
        for (const auto& o : options) {
            if (!out.empty()) out += " | ";
            out += o.first;
        }
        return out;
    }
    void wrong_type(const toml::node& node, std::string_view k, std::string_view expected);
    // A quantity written as a string ("10s", "64KiB", "50kW"): its value, node and text, or
    // nullopt once reported (not a string, or what `parse` says is wrong).
    template <typename T> struct quantity_text {
        T value{};
        const toml::node* node = nullptr;
        std::string text;
    };
    template <typename T>
    std::optional<quantity_text<T>> quantity(std::string_view k, std::string_view what,
                                             std::string_view syntax,
                                             parsed<T> (*parse)(std::string_view));

    const toml::table& table_;
    std::string path_;
    error_list& errors_;
    std::vector<std::string> known_;
};

} // namespace mb::config
