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

const std::filesystem::path& work_dir() {
    static const std::filesystem::path dir = [] {
        std::string tmpl = (std::filesystem::temp_directory_path() / "mbfuzz-XXXXXX").string();
        std::filesystem::path d = ::mkdtemp(tmpl.data());
        std::filesystem::create_directories(d / "profiles");
        std::ofstream(d / "profiles" / "meter-a.toml") << "id = \"meter-a\"\n[[value]]\n"
                                                          "name = \"voltage_l1\"\naddress = 1\n";
        std::atexit([] {
            std::error_code ec;
            std::filesystem::remove_all(work_dir(), ec);
        });
        return d;
    }();
    return dir;
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
