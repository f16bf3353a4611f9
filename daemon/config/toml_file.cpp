#include "daemon/config/toml_file.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

namespace mb::config {
namespace {

// Closes the descriptor on every path out.
struct fd_owner {
    explicit fd_owner(int f)
        : fd(f) {}
    int fd;
    ~fd_owner() {
        if (fd >= 0) ::close(fd);
    }
    fd_owner(const fd_owner&) = delete;
    fd_owner& operator=(const fd_owner&) = delete;
};

// Config files and profiles are small; anything larger is a mistake, not a config.
constexpr std::size_t max_file_size = 16U << 20U;

} // namespace

std::optional<std::string> read_text_file(const std::filesystem::path& file, std::string& why) {
    const fd_owner f{::open(file.c_str(), O_RDONLY | O_CLOEXEC)};
    if (f.fd < 0) {
        why = std::strerror(errno);
        return std::nullopt;
    }
    struct stat st {};
    if (::fstat(f.fd, &st) != 0) {
        why = std::strerror(errno);
        return std::nullopt;
    }
    if (!S_ISREG(st.st_mode)) {
        why = S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file";
        return std::nullopt;
    }
    std::string text;
    char buf[8192];
    for (;;) {
        const ssize_t n = ::read(f.fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            why = std::strerror(errno);
            return std::nullopt;
        }
        if (n == 0) break;
        text.append(buf, static_cast<std::size_t>(n));
        if (text.size() > max_file_size) {
            why = fmt::format("larger than {} bytes", max_file_size);
            return std::nullopt;
        }
    }
    return text;
}

std::optional<toml::table> parse_toml_file(const std::filesystem::path& file,
                                           std::vector<config_error>& errors) {
    std::string why;
    const auto text = read_text_file(file, why);
    if (!text) {
        errors.push_back({file, 0, 0, "", fmt::format("cannot read the file: {}", why)});
        return std::nullopt;
    }
    try {
        return toml::parse(*text, file.string());
    } catch (const toml::parse_error& e) {
        const auto& at = e.source().begin;
        errors.push_back({file, at.line == 0 ? 1 : static_cast<int>(at.line),
                          at.column == 0 ? 1 : static_cast<int>(at.column), "",
                          fmt::format("TOML syntax error: {}", e.description())});
        return std::nullopt;
    }
}

} // namespace mb::config
