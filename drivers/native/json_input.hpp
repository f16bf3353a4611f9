#pragma once
// What the three JSON decoders share: parsing an untrusted payload within the limits of
// decoder.hpp, reading numbers that may come as numeric strings, and naming what went wrong.
// Private to drivers/native (the decoders' .cpp files); nothing here throws but bad_alloc.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace mb::drivers::native {

using json = nlohmann::json;

// Parses `payload` into `doc`, or says why not (then `doc` is left as it was): "empty
// payload", "payload of N bytes is larger than the 262144 accepted", "nested deeper than 16
// levels", "not JSON: <parser's reason>". Size and depth are checked by a scan of the bytes
// before any tree is built. Trailing NUL bytes (a C string's terminator) are ignored; any
// other NUL is refused.
[[nodiscard]] std::string parse_limited(std::string_view payload, json& doc);

// parse_limited's checks, for a decoder that reads the text itself: "" when `payload` may be
// parsed, else the same reasons. check_size: the size, NULs (trailing ones are removed from
// `payload`) and emptiness; check_depth: the nesting, by a scan of the bytes.
[[nodiscard]] std::string check_size(std::string_view& payload);
[[nodiscard]] std::string check_depth(std::string_view payload);

// "not JSON: <parser's reason>" for an exception nlohmann raised or handed to a SAX handler.
[[nodiscard]] std::string not_json(const std::exception& e);

// Why a decode ended in an exception; call it only inside a catch block: "out of memory while
// decoding" or "cannot decode: <what>".
[[nodiscard]] std::string decode_failure();

// "a string", "an object", "an array", "a boolean", "null", "a number".
[[nodiscard]] std::string_view type_name(const json& v);

// A payload excerpt fit for a log line: printable ASCII only (others become '?'), at most
// `max` characters ("..." marks a cut).
[[nodiscard]] std::string printable(std::string_view s, std::size_t max = 32);

// The number a JSON value stands for: a number, or a string that is one in full ("21.60",
// "-1e3"; blanks around it allowed). Null and "" are no value (a meter with nothing to say):
// not an error. Otherwise `problem` says what was there ("a boolean where a number is
// expected", "a string where a number is expected (\"abc\")"). (A JSON number too big for a
// double never gets here: the parser refuses the document.)
struct number_field {
    std::optional<double> value;
    bool no_value = false;
    std::string problem;
};
[[nodiscard]] number_field to_number(const json& v);

// `value` if it is a whole number that fits an int64 (with room to spare), else nullopt.
[[nodiscard]] std::optional<std::int64_t> whole(double value);

// `value` × factor rounded to ms, if finite and within ±2^62 ms; else nullopt.
[[nodiscard]] std::optional<std::int64_t> to_ms(double value, double factor);

// A meter's id: a non-empty string without control characters, or a whole non-negative
// number below 2^53 (written in digits). nullopt with `problem` set otherwise.
[[nodiscard]] std::optional<std::string> to_serial(const json& v, std::string& problem);

// The errors of one decode: the first in full, the others only counted, so that a payload
// full of bad points costs one string. text(): "<first> (and 3 more)".
class problem_list {
public:
    void add(std::string_view where, std::string_view what);
    [[nodiscard]] std::string text() const;
    // Appends `other`'s problems after these (its first becomes the first if there was none).
    void merge(const problem_list& other);
    [[nodiscard]] std::size_t count() const { return count_; }

private:
    std::string first_;
    std::size_t count_ = 0;
};

} // namespace mb::drivers::native
