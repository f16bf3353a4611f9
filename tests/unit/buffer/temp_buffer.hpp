#pragma once
// A store-and-forward queue on a real SQLite file in a fresh temporary directory, opened; the
// directory goes with it. Loop tests make one per test.
#include "buffer/sqlite_queue.hpp"

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <memory>
#include <string>

namespace mbtest {

// A temporary directory removed with everything in it.
struct temp_dir {
    std::filesystem::path path;
    temp_dir() {
        std::string name = (std::filesystem::temp_directory_path() / "mb-buffer-XXXXXX").string();
        BOOST_REQUIRE(mkdtemp(name.data()) != nullptr);
        path = name;
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
};

inline mb::buffer::buffer_settings settings_in(const temp_dir& dir) {
    mb::buffer::buffer_settings s;
    s.path = dir.path / "buffer.db";
    s.flush_interval = std::chrono::milliseconds(100);
    return s;
}

inline std::unique_ptr<mb::buffer::sqlite_queue> open_queue(uv_loop_t& loop,
                                                            const mb::buffer::buffer_settings& s) {
    auto q = std::make_unique<mb::buffer::sqlite_queue>(loop, s);
    q->open();
    BOOST_REQUIRE(q->error().empty());
    return q;
}

} // namespace mbtest
