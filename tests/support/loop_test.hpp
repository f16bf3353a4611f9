#pragma once
// Component tests run on a real uv loop (docs/contributing.md#tests-at-three-levels). run_until()
// runs it until a condition holds or a deadline passes: tests never sleep to wait for something.
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <functional>
#include <uv.h>

namespace mbtest {

// Runs `loop` until pred() or the timeout; true when pred() held.
inline bool run_until(uv_loop_t& loop, const std::function<bool()>& pred,
                      std::chrono::milliseconds timeout) {
    uv_timer_t tick;
    if (uv_timer_init(&loop, &tick) != 0) return false;
    uv_timer_start(
        &tick, [](uv_timer_t*) {}, 10, 10); // so UV_RUN_ONCE returns regularly
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    bool ok = pred();
    while (!ok && std::chrono::steady_clock::now() < deadline) {
        uv_run(&loop, UV_RUN_ONCE);
        ok = pred();
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&tick), nullptr);
    uv_run(&loop, UV_RUN_NOWAIT);
    return ok;
}

// uv_loop_init, checked: a test on a loop that did not start would prove nothing.
inline void init_loop(uv_loop_t& loop) {
    BOOST_REQUIRE_EQUAL(uv_loop_init(&loop), 0);
}

// Runs the loop until nothing is left (close callbacks included), then closes it.
inline int drain_and_close(uv_loop_t& loop) {
    for (int i = 0; i < 1000 && uv_run(&loop, UV_RUN_NOWAIT) != 0; ++i) {
    }
    return uv_loop_close(&loop);
}

// A Boost fixture: a started loop for each test, closed with nothing left on it at the end
// (libuv's MAKE_VALGRIND_HAPPY).
struct on_loop {
    uv_loop_t loop{};
    on_loop() { init_loop(loop); }
    void teardown() { BOOST_TEST(drain_and_close(loop) == 0); }
};

} // namespace mbtest
