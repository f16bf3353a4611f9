#include "daemon/config/endpoint.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <cctype>
#include <cstring>
#include <fmt/format.h>
#include <memory>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace mb::config {
namespace {

using addrinfo_ptr = std::unique_ptr<addrinfo, decltype(&freeaddrinfo)>;

// One address as numeric_endpoint() writes it; `zone` ("%eth0") as written, if any.
std::optional<std::string> format_endpoint(const sockaddr* sa, int port, std::string_view zone) {
    std::array<char, INET6_ADDRSTRLEN> text{};
    if (sa->sa_family == AF_INET) {
        const auto* v4 = reinterpret_cast<const sockaddr_in*>(sa);
        if (inet_ntop(AF_INET, &v4->sin_addr, text.data(), text.size()) == nullptr)
            return std::nullopt;
        return fmt::format("{}:{}", text.data(), port);
    }
    if (sa->sa_family != AF_INET6) return std::nullopt;
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(sa);
    if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
        in_addr v4{};
        std::memcpy(&v4, &v6->sin6_addr.s6_addr[12], sizeof v4);
        if (inet_ntop(AF_INET, &v4, text.data(), text.size()) == nullptr) return std::nullopt;
        return fmt::format("{}:{}", text.data(), port);
    }
    if (inet_ntop(AF_INET6, &v6->sin6_addr, text.data(), text.size()) == nullptr)
        return std::nullopt;
    std::string scope(zone);
    if (scope.empty() && v6->sin6_scope_id != 0) scope = fmt::format("%{}", v6->sin6_scope_id);
    return fmt::format("[{}{}]:{}", text.data(), scope, port);
}

addrinfo_ptr lookup(const std::string& host, int flags) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = flags;
    addrinfo* raw = nullptr;
    if (getaddrinfo(host.c_str(), nullptr, &hints, &raw) != 0) raw = nullptr;
    return {raw, &freeaddrinfo};
}

} // namespace

std::optional<std::string> numeric_endpoint(std::string_view host, int port) {
    // The zone of a link-local address stays as written: an interface that does not exist
    // here (check runs elsewhere too) must not make the address a name.
    const auto percent = host.find('%');
    const std::string address(host.substr(0, percent));
    const std::string_view zone =
        percent == std::string_view::npos ? std::string_view() : host.substr(percent);
    if (address.empty()) return std::nullopt;
    const auto found = lookup(address, AI_NUMERICHOST);
    if (!found) return std::nullopt;
    return format_endpoint(found->ai_addr, port, zone);
}

std::string endpoint_identity(std::string_view host, int port) {
    if (auto numeric = numeric_endpoint(host, port)) return *numeric;
    std::string name(host);
    std::ranges::transform(name, name.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return fmt::format("{}:{}", name, port);
}

std::vector<std::string> resolve_endpoints(std::string_view host, int port) {
    if (auto numeric = numeric_endpoint(host, port)) return {*numeric};
    std::vector<std::string> out;
    const auto found = lookup(std::string(host), 0);
    for (const addrinfo* ai = found.get(); ai != nullptr; ai = ai->ai_next)
        if (auto text = format_endpoint(ai->ai_addr, port, {});
            text && std::ranges::find(out, *text) == out.end())
            out.push_back(std::move(*text));
    return out;
}

} // namespace mb::config
