#include "model/reading.hpp"

#include <stdexcept>
#include <string>

namespace mb::model {

reading_value::reading_value(std::string_view name, double v)
    : value(v) {
    const auto m = measurement_of(name);
    if (!m) throw std::invalid_argument("not a measurement name: " + std::string(name));
    id = *m;
}

} // namespace mb::model
