#pragma once
// Owner of a libuv handle (style.md rule 6): the handle is heap-allocated and freed only in
// its close callback, because libuv may still touch it until then. Loop thread only.
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

// An initialized timer whose `data` is `owner`. A failed uv_timer_init (it cannot fail on
// Linux today) throws std::system_error naming the call: timers are made while components
// are built, never on the data path.
inline uv_handle<uv_timer_t> make_uv_timer(uv_loop_t& loop, void* owner) {
    auto t = make_uv_handle<uv_timer_t>();
    if (const int rc = uv_timer_init(&loop, t.get()); rc != 0) {
        delete t.release(); // never initialized: nothing for uv_close to close
        throw std::system_error(-rc, std::generic_category(), "uv_timer_init");
    }
    t->data = owner;
    return t;
}

} // namespace mb
