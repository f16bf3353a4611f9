#include "common/file_mode.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

namespace mb::common {

std::optional<std::string> secret_file_warning(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    const unsigned mode = st.st_mode & 07777U;
    if ((mode & S_IROTH) != 0U)
        return fmt::format("{} is readable by others (mode {:04o}); chmod 600 it", path, mode);
    if ((mode & S_IRGRP) != 0U)
        return fmt::format("{} is readable by its group (mode {:04o}); chmod 600 it unless the "
                           "group is meterbridge's own",
                           path, mode);
    return std::nullopt;
}

} // namespace mb::common
