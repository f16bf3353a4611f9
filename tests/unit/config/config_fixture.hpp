#pragma once
// A temporary directory with a config file and profiles in it, and lookups over the errors.
#include "daemon/config/load_config.hpp"

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <variant>
#include <vector>

namespace mb::config::test {

// A minimal valid profile with values at 0x10 (u16), 0x20..0x21 (u32) and bits at 0x30.
inline constexpr const char* meter_a = R"(id = "meter-a"
vendor = "V"
model = "A"
[[value]]
name = "voltage_l1"
address = 0x10
type = "u16"
scale = 0.1
[[value]]
name = "energy_import_total"
address = 0x20
type = "u32"
[[value]]
name = "di_1"
address = 0x30
type = "bits"
bit = 0
)";

struct temp_dir {
    std::filesystem::path path;
    temp_dir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "mbcfg-XXXXXX").string();
        path = ::mkdtemp(tmpl.data());
        std::filesystem::create_directories(path / "profiles");
        write("profiles/meter-a.toml", meter_a);
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    std::filesystem::path write(const std::string& name, const std::string& text) const {
        const auto file = path / name;
        std::filesystem::create_directories(file.parent_path());
        std::ofstream(file) << text;
        return file;
    }
    // Writes meterbridge.toml and loads it.
    load_result load(const std::string& text) const {
        return load_config(write("meterbridge.toml", text));
    }
    std::vector<config_error> errors(const std::string& text) const {
        auto r = load(text);
        if (auto* e = std::get_if<std::vector<config_error>>(&r)) return *e;
        return {};
    }
    config ok(const std::string& text) const {
        auto r = load(text);
        if (auto* e = std::get_if<std::vector<config_error>>(&r)) {
            for (const auto& err : *e)
                BOOST_TEST_MESSAGE(err.to_string());
            BOOST_FAIL("expected a valid config, got " << e->size() << " errors");
        }
        return std::get<config>(r);
    }
};

// The head every test config starts from: lines 1..8, valid, one bus. device: 5 lines.
inline const std::string head = R"([gateway]
id = "gw1"
profile_dirs = ["profiles"]
[uplink]
url = "mqtt://127.0.0.1"
[[bus]]
name = "b1"
port = "/dev/null"
)";

inline const std::string device = R"([[device]]
name = "d1"
bus = "b1"
unit = 1
profile = "meter-a"
)";

// A [[native]] table of 5 lines (acrel-json-v2 on m/#) plus `extra`.
inline std::string native(const std::string& name, const std::string& url,
                          const std::string& extra = "") {
    return "[[native]]\nname = \"" + name + "\"\nurl = \"" + url +
           "\"\nsubscribe = \"m/#\"\nformat = \"acrel-json-v2\"\n" + extra;
}

// Every error (or warning), one FILE:LINE:COL line each: for failure messages.
inline std::string all(const std::vector<config_error>& e) {
    std::string out;
    for (const auto& x : e)
        out += x.to_string() + "\n";
    return out;
}

// Asserts that exactly one error names key, at line:column, with text in its message.
inline void expect_error(const std::vector<config_error>& errors, const std::string& key, int line,
                         int column, const std::string& text = "") {
    int found = 0;
    for (const auto& e : errors) {
        if (e.key != key) continue;
        ++found;
        BOOST_TEST_INFO(e.to_string());
        BOOST_TEST(e.line == line);
        BOOST_TEST_INFO(e.to_string());
        BOOST_TEST(e.column == column);
        if (!text.empty()) {
            BOOST_TEST_INFO(e.to_string());
            BOOST_TEST(e.message.find(text) != std::string::npos);
        }
    }
    std::string all;
    for (const auto& e : errors)
        all += e.to_string() + "\n";
    BOOST_TEST_INFO("errors:\n" << all);
    BOOST_TEST(found == 1, "one error for " << key);
}

} // namespace mb::config::test
