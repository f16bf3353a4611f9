#pragma once
// A reading's values as the body of its row in the buffer file (docs/buffer.md#the-file):
// a varint count, then per value the varint number the file gave its name (the `names`
// table) and 8 bytes of IEEE double in the machine's order (the file never leaves the box).
// The file keeps names, never the gateway's measurement numbers, so that a file outlives a
// vocabulary that grows. Both directions are kept in memory, by measurement, so that encoding
// a value costs no string. Writer thread only (as the store).
#include "model/measurements.hpp"
#include "model/reading.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mb::buffer {

struct decoded_body {
    std::vector<model::reading_value> values;
    // Values under a name of the file that this version's vocabulary does not have (a file
    // written by a newer version): left out.
    std::size_t unknown = 0;
};

class reading_codec {
public:
    // The file numbered `name` as `number` (from its names table, or just added to it).
    void learn(std::int64_t number, std::string_view name);
    void clear();

    // The file's number for `m`; nullopt until learn() was told it.
    [[nodiscard]] std::optional<std::int64_t> number_of(model::measurement m) const;
    // Every value's measurement must have a number (number_of) first.
    [[nodiscard]] std::string encode(const std::vector<model::reading_value>& values) const;
    // Throws sqlite_error (SQLITE_CORRUPT) for a body cut short or a number the file never gave.
    [[nodiscard]] decoded_body decode(std::string_view body) const;

private:
    std::vector<std::int64_t> numbers_; // by measurement; 0: none yet (the file's start at 1)
    // By the file's number: the measurement, or nullopt for a name this version lacks.
    std::unordered_map<std::int64_t, std::optional<model::measurement>> measurements_;
};

} // namespace mb::buffer
