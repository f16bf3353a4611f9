#pragma once
// Owner of a libuv handle (style.md rule 6): the handle is heap-allocated and freed only in
// its close callback, because libuv may still touch it until then. Loop thread only.
#include <memory>
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

} // namespace mb
