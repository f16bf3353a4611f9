#pragma once
// What the buffer file holds per device (how many items, their lowest and highest seq), kept
// beside the file on the writer thread. A file lost while the daemon runs (deleted, replaced,
// truncated) is rebuilt from the daemon's state; what it held that cannot be read back is
// announced as a gap of reason file_lost, and this is how the daemon knows which seqs those
// were. lo..hi may also cover seqs already delivered (a device's range starts again only when
// it has no item left): a file_lost gap says "those of these you have not received are lost".
// Changes count once the transaction that made them commits.
#include <algorithm>
#include <cstdint>
#include <map>
#include <vector>

namespace mb::buffer {

class file_census {
public:
    struct counts {
        std::uint64_t items = 0;
        std::uint64_t lo = 0; // lowest seq an item names
        std::uint64_t hi = 0; // highest
    };

    void reset(std::map<std::int64_t, counts> now) {
        now_ = std::move(now);
        pending_.clear();
    }
    void added(std::int64_t device, std::uint64_t from, std::uint64_t to) {
        pending_.push_back({device, from, to, true});
    }
    void removed(std::int64_t device) { pending_.push_back({device, 0, 0, false}); }
    void commit() {
        for (const auto& c : pending_) {
            auto& d = now_[c.device];
            if (c.added) {
                d.lo = d.items == 0 ? c.from : std::min(d.lo, c.from);
                d.hi = d.items == 0 ? c.to : std::max(d.hi, c.to);
                ++d.items;
            } else if (d.items > 0 && --d.items == 0) {
                d = {};
            }
        }
        pending_.clear();
    }
    void rollback() { pending_.clear(); }
    [[nodiscard]] const std::map<std::int64_t, counts>& devices() const { return now_; }

private:
    struct change {
        std::int64_t device;
        std::uint64_t from, to;
        bool added;
    };
    std::map<std::int64_t, counts> now_; // by device id in the file
    std::vector<change> pending_;
};

} // namespace mb::buffer
