#pragma once
// The thread that does the buffer's disk work (docs/architecture.md: the loop never waits on
// fsync). Jobs run on it one at a time, in the order posted; each job's continuation then runs on
// the loop thread, in the same order. A job must not throw (the caller's work catches).
#include "common/uv_handle.hpp"

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <uv.h>

namespace mb::buffer {

class writer_thread {
public:
    using work_fn = std::function<void()>;
    explicit writer_thread(uv_loop_t& loop);
    // Finishes the jobs already posted (their continuations are dropped), then joins.
    ~writer_thread();
    writer_thread(const writer_thread&) = delete;
    writer_thread& operator=(const writer_thread&) = delete;

    // Runs `work` on the writer thread, then `then` on the loop thread.
    void post(work_fn work, work_fn then);
    // Runs `work` on the writer thread and waits for it (start-up only: opening the file).
    void run_and_wait(const work_fn& work);
    // Jobs posted and not yet continued on the loop.
    [[nodiscard]] std::size_t pending() const { return pending_; }

private:
    struct job {
        work_fn work, then;
    };
    static void on_done(uv_async_t* a) noexcept;
    void run();

    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<job> todo_;
    std::deque<work_fn> done_;
    bool stopping_ = false;
    std::size_t pending_ = 0; // loop thread only
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
    uv_handle<uv_async_t> async_;
    std::thread thread_;
};

} // namespace mb::buffer
