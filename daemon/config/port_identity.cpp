#include "daemon/config/port_identity.hpp"

#include "daemon/config/endpoint.hpp"
#include "drivers/modbus_rtu/port_address.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <system_error>

namespace mb::config {

std::string port_identity(std::string_view port) {
    if (port.find("://") != std::string_view::npos) {
        const auto parsed = drivers::rtu::parse_port(port);
        if (parsed.ok() && parsed.address.network())
            return "converter " + endpoint_identity(parsed.address.host, parsed.address.port);
        // Not a port at all (load_config reports it): the text, case folded.
        std::string id(port);
        std::ranges::transform(id, id.begin(),
                               [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        return id;
    }
    std::string id(port);
    if (id.empty()) return id;
    // A few stat/readlink calls on /dev; a failure keeps the text as written.
    std::error_code ec;
    auto canonical = std::filesystem::weakly_canonical(std::filesystem::path(id), ec);
    if (ec || canonical.empty()) return id;
    return canonical.string();
}

} // namespace mb::config
