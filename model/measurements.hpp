#pragma once
// The one vocabulary of measurement names and their fixed units (docs/measurements.md).
// Profiles and native decoders are checked against it; it is the allow-list.
#include <optional>
#include <string_view>

namespace mb::model {

// The unit of a measurement name ("V", "kWh", "1", ...), or nullopt when the name is not
// in the vocabulary. Harmonic contents harmonic_{voltage,current}_l{1..3}_h{2..31} are "%".
std::optional<std::string_view> unit_of(std::string_view name);

} // namespace mb::model
