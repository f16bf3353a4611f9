#include "buffer/delivery_queue.hpp"
#include "buffer/sqlite_queue.hpp"

namespace mb::buffer {

open_result open_delivery_queue(uv_loop_t& loop, const buffer_settings& settings) {
    open_result r;
    try {
        auto q = std::make_unique<sqlite_queue>(loop, settings);
        q->open(); // a file that cannot be opened is reported by the queue, which goes on
        r.queue = std::move(q);
    } catch (const std::exception& e) { // a thread or a libuv handle could not be made
        r.error = e.what();
    }
    return r;
}

} // namespace mb::buffer
