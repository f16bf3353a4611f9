#pragma once
// A fresh temporary directory, removed with everything in it.
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

namespace mbtest {

struct temp_dir {
    std::filesystem::path path;
    explicit temp_dir(std::string_view prefix = "mb-test") {
        std::string name =
            (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
        BOOST_REQUIRE(::mkdtemp(name.data()) != nullptr);
        path = name;
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
};

} // namespace mbtest
