#include "daemon/config/port_identity.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <system_error>

namespace mb::config {

std::string port_identity(std::string_view port) {
    std::string id(port);
    if (const auto scheme = id.find("://"); scheme != std::string::npos) {
        // Scheme and authority (HOST:PORT, [v6]:PORT): case does not matter there; the port
        // digits are unchanged by lower-casing.
        const auto end = std::min(id.find('/', scheme + 3), id.size());
        std::transform(id.begin(), id.begin() + static_cast<std::ptrdiff_t>(end), id.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        return id;
    }
    if (id.empty()) return id;
    // A few stat/readlink calls on /dev; a failure keeps the text as written.
    std::error_code ec;
    auto canonical = std::filesystem::weakly_canonical(std::filesystem::path(id), ec);
    if (ec || canonical.empty()) return id;
    return canonical.string();
}

} // namespace mb::config
