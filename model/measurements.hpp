#pragma once
// The one vocabulary of measurement names and their fixed units (docs/measurements.md).
// Profiles and native decoders are checked against it; it is the allow-list.
//
// Inside the gateway a name travels as a `measurement`: its place in the one table of names,
// built once at start. A reading's values are a number and a measurement each, so that a
// reading costs no string per value from the decoders to the payload writer. The number is
// this process's only: the buffer file and every message carry the names.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace mb::model {

enum class measurement : std::uint16_t {};

// The measurement a vocabulary name stands for; nullopt for any other name.
[[nodiscard]] std::optional<measurement> measurement_of(std::string_view name);
// Its name and unit ("voltage_l1", "V"); the views stay valid for the life of the process.
[[nodiscard]] std::string_view name_of(measurement m);
[[nodiscard]] std::string_view unit_of(measurement m);
// How many there are: measurements are 0 .. measurement_count() - 1.
[[nodiscard]] std::size_t measurement_count();

// The unit of a measurement name ("V", "kWh", "1", ...), or nullopt when the name is not
// in the vocabulary. Harmonic contents harmonic_{voltage,current}_l{1..3}_h{2..31} are "%".
[[nodiscard]] std::optional<std::string_view> unit_of(std::string_view name);

} // namespace mb::model
