#pragma once
// What a downlink command produced (docs/commands.md): ok (with values for a read) or a reason.
#include <string>
#include <utility>
#include <vector>

namespace mb::model {

using named_values = std::vector<std::pair<std::string, double>>;

struct command_outcome {
    bool ok = false;
    std::string error;
    named_values values;
};

} // namespace mb::model
