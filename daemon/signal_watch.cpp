#include "daemon/signal_watch.hpp"

#include "common/log.hpp"

#include <exception>

namespace mb::daemon {

signal_watch::signal_watch(uv_loop_t& loop)
    : loop_(loop) {}

int signal_watch::watch(int signum, handler h) {
    auto e = std::make_unique<entry>();
    e->handle = make_uv_handle<uv_signal_t>();
    e->on_signal = std::move(h);
    if (const int rc = uv_signal_init(&loop_, e->handle.get()); rc != 0) {
        delete e->handle.release(); // never initialised: nothing for libuv to close
        return rc;
    }
    e->handle->data = e.get();
    if (const int rc = uv_signal_start(e->handle.get(), &on_signal, signum); rc != 0) return rc;
    entries_.push_back(std::move(e));
    return 0;
}

void signal_watch::on_signal(uv_signal_t* s, int signum) noexcept {
    try {
        static_cast<entry*>(s->data)->on_signal(signum);
    } catch (const std::exception& ex) {
        log::error("signal {}: handler failed: {}", signum, ex.what());
    } catch (...) {
        log::error("signal {}: handler failed", signum);
    }
}

// Only the handles close here: close() may run inside one of the handlers, whose std::function
// must outlive its own call. The entries go with this object.
void signal_watch::close() {
    for (auto& e : entries_)
        e->handle.reset();
}

} // namespace mb::daemon
