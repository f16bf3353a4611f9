// load_config on arbitrary bytes: it must return values or errors, never crash. The input is
// written to a file in a private temporary directory, with a small profile beside it, so the
// profile search and profile validation run too.
#include "daemon/config/load_config.hpp"

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <variant>

namespace {

// Created on first use, removed when the process exits normally.
struct temp_dir {
    std::filesystem::path path;
    temp_dir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "mbfuzz-XXXXXX").string();
        path = ::mkdtemp(tmpl.data());
        std::filesystem::create_directories(path / "profiles");
        std::ofstream(path / "profiles" / "meter-a.toml") << "id = \"meter-a\"\n[[value]]\n"
                                                             "name = \"voltage_l1\"\naddress = 1\n";
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
};

const std::filesystem::path& work_dir() {
    static const temp_dir dir;
    return dir.path;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto file = work_dir() / "meterbridge.toml";
    {
        std::ofstream out(file, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    }
    const auto result = mb::config::load_config(file);
    if (const auto* errors = std::get_if<std::vector<mb::config::config_error>>(&result))
        for (const auto& e : *errors)
            (void)e.to_string();
    return 0;
}
