#include "buffer/writer_thread.hpp"

#include "common/log.hpp"

#include <future>
#include <system_error>

namespace mb::buffer {

writer_thread::writer_thread(uv_loop_t& loop)
    : async_(make_uv_handle<uv_async_t>()) {
    if (const int rc = uv_async_init(&loop, async_.get(), &on_done); rc != 0) {
        delete async_.release(); // never initialized: nothing for uv_close to close
        throw std::system_error(-rc, std::generic_category(), "uv_async_init");
    }
    async_->data = this;
    thread_ = std::thread([this] { run(); });
}

writer_thread::~writer_thread() {
    {
        const std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
    async_->data = nullptr; // a send already queued finds no owner
    alive_.reset();
}

void writer_thread::post(work_fn work, work_fn then) {
    {
        const std::lock_guard lock(mutex_);
        todo_.push_back({std::move(work), std::move(then)});
    }
    ++pending_;
    wake_.notify_one();
}

void writer_thread::run_and_wait(const work_fn& work) {
    std::promise<void> finished;
    auto done = finished.get_future();
    {
        const std::lock_guard lock(mutex_);
        todo_.push_back({[&] {
                             work();
                             finished.set_value();
                         },
                         nullptr});
    }
    ++pending_;
    wake_.notify_one();
    done.wait();
}

void writer_thread::run() {
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait(lock, [this] { return stopping_ || !todo_.empty(); });
        if (todo_.empty()) return; // stopping, and nothing left
        auto j = std::move(todo_.front());
        todo_.pop_front();
        lock.unlock();
        j.work();
        lock.lock();
        done_.push_back(std::move(j.then));
        uv_async_send(async_.get());
    }
}

void writer_thread::on_done(uv_async_t* a) noexcept {
    auto* self = static_cast<writer_thread*>(a->data);
    if (self == nullptr) return;
    try {
        std::deque<work_fn> ready;
        {
            const std::lock_guard lock(self->mutex_);
            ready.swap(self->done_);
        }
        // A continuation may destroy this writer (the queue's close ends in its owner's
        // reset): after each one, go on only if it is still alive.
        const std::weak_ptr<bool> alive = self->alive_;
        for (auto& then : ready) {
            if (alive.expired()) return;
            --self->pending_;
            if (then) then();
        }
    } catch (...) { // never unwind into libuv
        log::callback_failed("buffer", __func__);
    }
}

} // namespace mb::buffer
