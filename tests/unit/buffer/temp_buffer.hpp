#pragma once
// A store-and-forward queue on a real SQLite file in a fresh temporary directory, opened; the
// directory goes with it. Loop tests make one per test.
#include "buffer/sqlite_queue.hpp"
#include "tests/support/temp_dir.hpp"

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <memory>
#include <string>

namespace mbtest {

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
