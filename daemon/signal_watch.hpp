#pragma once
// Unix signals delivered on the loop thread through uv_signal_t, so a handler may touch
// loop-side state freely (no async-signal-safety concerns). Loop thread only.
#include "common/uv_handle.hpp"

#include <functional>
#include <uv.h>
#include <vector>

namespace mb::daemon {

class signal_watch {
public:
    using handler = std::function<void(int signum)>;

    explicit signal_watch(uv_loop_t& loop);

    // Calls `h` on the loop each time `signum` arrives. Returns 0 or a UV_E* code.
    int watch(int signum, handler h);
    void close(); // stops every watch; the loop can then end

private:
    struct entry {
        uv_handle<uv_signal_t> handle;
        handler on_signal;
    };
    static void on_signal(uv_signal_t* s, int signum) noexcept;

    uv_loop_t& loop_;
    std::vector<std::unique_ptr<entry>> entries_; // stable addresses: handle->data points here
};

} // namespace mb::daemon
