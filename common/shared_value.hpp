#pragma once
// A shared, immutable value that compares by what it holds, not by address: settings that
// share one copy of something large (a profile many devices use) still compare whole on a
// reload, where each load makes new copies.
#include <memory>
#include <utility>

namespace mb::common {

template <class T> class shared_value {
public:
    shared_value() = default;
    // NOLINTNEXTLINE(google-explicit-constructor): stands in for the shared_ptr it wraps
    shared_value(std::shared_ptr<const T> p)
        : p_(std::move(p)) {}

    const T& operator*() const { return *p_; }
    const T* operator->() const { return p_.get(); }
    explicit operator bool() const { return p_ != nullptr; }
    [[nodiscard]] const std::shared_ptr<const T>& shared() const { return p_; }

    friend bool operator==(const shared_value& a, const shared_value& b) {
        return a.p_ == b.p_ || (a.p_ && b.p_ && *a.p_ == *b.p_);
    }

private:
    std::shared_ptr<const T> p_;
};

} // namespace mb::common
