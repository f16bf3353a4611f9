#pragma once
// Secrets on disk (password_file, key_file) must not be readable by everyone.
#include <optional>
#include <string>

namespace mb::common {

// A warning to log when `path` is readable by group or others ("… is readable by others
// (mode 0644); chmod 600 it"), nullopt when it is private or cannot be inspected.
std::optional<std::string> secret_file_warning(const std::string& path);

} // namespace mb::common
