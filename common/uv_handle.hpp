#pragma once
// Owner of a libuv handle (docs/contributing.md#every-c-object-has-one-owner-and-one-thread): the
// handle is heap-allocated and freed only in its close callback, because libuv may still touch it
// until then. Loop thread only.
#include <memory>
#include <string>
#include <system_error>
#include <uv.h>

namespace mb {

template <typename T> struct uv_handle_closer {
    void operator()(T* h) const noexcept {
        if (h == nullptr) return;
        auto* base = reinterpret_cast<uv_handle_t*>(h);
        if (uv_is_closing(base) == 0)
            uv_close(base, [](uv_handle_t* closed) { delete reinterpret_cast<T*>(closed); });
    }
};

template <typename T> using uv_handle = std::unique_ptr<T, uv_handle_closer<T>>;

template <typename T> uv_handle<T> make_uv_handle() {
    return uv_handle<T>(new T{});
}

// An initialized timer whose `data` is `owner`; empty when uv_timer_init failed (it cannot
// on Linux today), with the first such error kept in `ec` for the component to report.
inline uv_handle<uv_timer_t> make_uv_timer(uv_loop_t& loop, void* owner, std::error_code& ec) {
    auto t = make_uv_handle<uv_timer_t>();
    if (const int rc = uv_timer_init(&loop, t.get()); rc != 0) {
        delete t.release(); // never initialized: nothing for uv_close to close
        if (!ec) ec = std::error_code(-rc, std::generic_category()); // UV_E* is -errno
        return {};
    }
    t->data = owner;
    return t;
}

// The same for components built without an error path: a failure throws std::system_error
// naming the call (components are built at start or reload, never on the data path).
inline uv_handle<uv_timer_t> make_uv_timer(uv_loop_t& loop, void* owner) {
    std::error_code ec;
    auto t = make_uv_timer(loop, owner, ec);
    if (ec) throw std::system_error(ec, "uv_timer_init");
    return t;
}

} // namespace mb
