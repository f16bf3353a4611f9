#pragma once
// An uplink stand-in for the delivery queue's tests: an in-flight window of `room` items that
// an acknowledgement opens again, message ids from 1, devices whose readings it refuses for
// good (as the broker refuses a packet too large; their small gap messages pass), and the
// record of what it sent (readings and gaps), in order.
#include "buffer/delivery_queue.hpp"
#include "buffer/item.hpp"
#include "model/outlet.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace mbtest {

struct fake_outlet final : mb::model::outlet {
    using attempt = mb::model::publish_attempt;

    std::size_t room = 0;         // items it takes before answering retry
    bool up = true;               // connected (an outage: false)
    std::set<std::string> refuse; // the readings of these devices are refused for good
    std::vector<mb::buffer::item> sent;
    std::map<int, std::size_t> unacked;                      // mid -> index in `sent`
    std::function<void(const mb::buffer::item&)> on_publish; // called before taking an item
    int next_mid = 1;
    mb::model::delivery_receipts* receipts = nullptr; // whom report_to() named

    attempt publish(const mb::model::reading& r) override {
        if (refuse.contains(r.device)) return {attempt::outcome::refused, 0, "too large"};
        return take(r);
    }
    attempt publish(const mb::model::gap& g) override { return take(g); }
    [[nodiscard]] bool connected() const override { return up; }
    void report_to(mb::model::delivery_receipts* r) override { receipts = r; }

    // Acknowledges everything in flight: its room opens again.
    void ack_all(mb::buffer::delivery_queue& q) {
        const auto mids = std::exchange(unacked, {});
        for (const auto& [mid, index] : mids) {
            q.acked(mid);
            ++room;
        }
    }

    [[nodiscard]] std::vector<mb::model::reading> readings() const {
        std::vector<mb::model::reading> out;
        for (const auto& i : sent)
            if (const auto* r = std::get_if<mb::model::reading>(&i)) out.push_back(*r);
        return out;
    }
    [[nodiscard]] std::vector<mb::model::gap> gaps() const {
        std::vector<mb::model::gap> out;
        for (const auto& i : sent)
            if (const auto* g = std::get_if<mb::model::gap>(&i)) out.push_back(*g);
        return out;
    }
    // The seqs of `device`'s readings, in the order sent.
    [[nodiscard]] std::vector<std::uint64_t> seqs(const std::string& device) const {
        std::vector<std::uint64_t> out;
        for (const auto& r : readings())
            if (r.device == device) out.push_back(r.seq);
        return out;
    }

private:
    attempt take(const mb::buffer::item& i) {
        if (room == 0) return {attempt::outcome::retry, 0, {}};
        if (on_publish) on_publish(i);
        --room;
        const int mid = next_mid++;
        unacked.emplace(mid, sent.size());
        sent.push_back(i);
        return {attempt::outcome::sent, mid, {}};
    }
};

} // namespace mbtest
