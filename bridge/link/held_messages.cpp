#include "bridge/link/held_messages.hpp"

#include <algorithm>
#include <utility>

namespace mb::bridge {
namespace {

constexpr std::size_t table_size = std::size_t{held_messages::max_mid} + 1;

// A slot's strings keep their capacity for the next message, unless it was a large one.
constexpr std::size_t keep_capacity = std::size_t{64} * 1024;

void shrink(std::string& s) {
    if (s.capacity() > keep_capacity) std::string().swap(s);
}

std::size_t at(int mid) {
    return static_cast<std::size_t>(mid);
}

} // namespace

held_messages::held_messages()
    : mids_(table_size)
    , lib_mids_(table_size, 0) {}

int held_messages::track(int lib_mid, std::string_view topic, std::string_view payload, int qos,
                         bool retain, bool windowed, std::chrono::steady_clock::time_point now) {
    auto& lib = lib_mids_[at(lib_mid)];
    if (lib != 0) release(lib); // libmosquitto reused a mid before its PUBACK
    int mid = lib_mid;
    if (mids_[at(mid)].k != kind::none) {
        // Held by a message carried over from a replaced instance: the next free mid.
        for (int i = 0; i < max_mid; ++i) {
            next_mid_ = next_mid_ % max_mid + 1;
            if (mids_[at(next_mid_)].k == kind::none) break;
        }
        mid = next_mid_;
        release(mid); // only when all 65535 are taken
    }
    std::uint32_t slot = 0;
    if (free_.empty()) {
        slot = static_cast<std::uint32_t>(held_.size());
        held_.emplace_back();
    } else {
        slot = free_.back();
        free_.pop_back();
    }
    auto& h = held_[slot];
    h.mid = mid;
    h.topic.assign(topic);
    h.payload.assign(payload);
    h.qos = qos;
    h.retain = retain;
    h.order = ++order_;
    h.sent = now;
    mids_[at(mid)] = {windowed ? kind::windowed : kind::control, slot};
    if (windowed) ++windowed_;
    lib = static_cast<std::uint16_t>(mid);
    return mid;
}

std::optional<held_messages::released> held_messages::acknowledged(int lib_mid) {
    if (lib_mid <= 0 || lib_mid > max_mid) return std::nullopt;
    const int mid = std::exchange(lib_mids_[at(lib_mid)], std::uint16_t{0});
    if (mid == 0) return std::nullopt;
    const released r{mid, is_windowed(mid)};
    release(mid);
    return r;
}

void held_messages::release(int mid) {
    auto& e = mids_[at(mid)];
    if (e.k == kind::none) return;
    if (e.k == kind::windowed) --windowed_;
    auto& h = held_[e.slot];
    h.mid = 0;
    shrink(h.topic);
    shrink(h.payload);
    free_.push_back(e.slot);
    e = {};
}

std::vector<held_messages::released> held_messages::release_as_large(std::string_view topic,
                                                                     std::size_t size) {
    std::vector<released> out;
    for (const auto& h : held_) {
        if (h.mid == 0 || h.topic != topic || h.payload.size() < size) continue;
        const int mid = h.mid;
        out.push_back({mid, is_windowed(mid)});
        release(mid);
    }
    return out;
}

void held_messages::forget_lib_mids() {
    std::ranges::fill(lib_mids_, std::uint16_t{0});
}

void held_messages::map(int lib_mid, int mid) {
    lib_mids_[at(lib_mid)] = static_cast<std::uint16_t>(mid);
}

const held_message* held_messages::oldest() const {
    const held_message* o = nullptr;
    for (const auto& h : held_)
        if (h.mid != 0 && (o == nullptr || h.order < o->order)) o = &h;
    return o;
}

std::chrono::steady_clock::time_point held_messages::last_sent() const {
    std::chrono::steady_clock::time_point t{};
    for (const auto& h : held_)
        if (h.mid != 0) t = std::max(t, h.sent);
    return t;
}

std::vector<int> held_messages::in_order() const {
    std::vector<std::uint32_t> slots;
    for (std::uint32_t i = 0; i < held_.size(); ++i)
        if (held_[i].mid != 0) slots.push_back(i);
    std::ranges::sort(slots, {}, [&](std::uint32_t i) { return held_[i].order; });
    std::vector<int> mids;
    mids.reserve(slots.size());
    for (const std::uint32_t i : slots)
        mids.push_back(held_[i].mid);
    return mids;
}

const held_message& held_messages::message(int mid) const {
    return held_[mids_[at(mid)].slot];
}

bool held_messages::held(int mid) const {
    return mid > 0 && mid <= max_mid && mids_[at(mid)].k != kind::none;
}

bool held_messages::is_windowed(int mid) const {
    return mid > 0 && mid <= max_mid && mids_[at(mid)].k == kind::windowed;
}

} // namespace mb::bridge
