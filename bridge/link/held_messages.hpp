#pragma once
// The QoS 1 messages an mqtt_link has handed to libmosquitto and not yet seen acknowledged,
// each with a copy (mqtt_link.hpp: poison messages, carry-over to a fresh instance). Mids as
// callers see them are the link's own; libmosquitto's are mapped to them (the same number
// until an instance is replaced and its successor numbers the carried-over copies anew).
// Bounded by the mid space: at most 65535 messages; a 65536th releases the one whose mid it
// takes. Loop thread only.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mb::bridge {

// One message awaiting its PUBACK.
struct held_message {
    int mid = 0; // the link's mid; 0: a free slot
    std::string topic;
    std::string payload;
    int qos = 1;
    bool retain = false;
    std::uint64_t order = 0; // publish order, from 1
    std::chrono::steady_clock::time_point sent{};
};

class held_messages {
public:
    static constexpr int max_mid = 65535;

    // What a PUBACK (or giving a message up) released.
    struct released {
        int mid = 0;
        bool windowed = false;
    };

    held_messages();

    // libmosquitto took a message under `lib_mid` (1..max_mid): returns the link's mid for it,
    // `lib_mid` itself unless a message carried over from a replaced instance holds it.
    int track(int lib_mid, std::string_view topic, std::string_view payload, int qos, bool retain,
              bool windowed, std::chrono::steady_clock::time_point now);
    // The PUBACK of libmosquitto's `lib_mid`: the message it released; nullopt for a mid not
    // tracked (QoS 0 reports too).
    std::optional<released> acknowledged(int lib_mid);
    // Forgets the link's `mid` (nothing when it is not held).
    void release(int mid);
    // Releases every message on `topic` with a payload of `size` bytes or more, in slot order.
    std::vector<released> release_as_large(std::string_view topic, std::size_t size);

    // A fresh libmosquitto instance: none of its mids are known yet.
    void forget_lib_mids();
    // A carried-over copy went out again under the fresh instance's `lib_mid`.
    void map(int lib_mid, int mid);

    // The oldest message held (the smallest order); nullptr when none.
    [[nodiscard]] const held_message* oldest() const;
    // When the newest message held went out; the epoch when none.
    [[nodiscard]] std::chrono::steady_clock::time_point last_sent() const;
    // The link's mids held, in publish order (to carry them over).
    [[nodiscard]] std::vector<int> in_order() const;
    // The message held under the link's `mid`, which must be held.
    [[nodiscard]] const held_message& message(int mid) const;
    [[nodiscard]] bool held(int mid) const;
    [[nodiscard]] bool is_windowed(int mid) const;
    // Messages held that count against the window (readings), and all of them.
    [[nodiscard]] std::size_t windowed() const { return windowed_; }
    [[nodiscard]] std::size_t size() const { return held_.size() - free_.size(); }

private:
    // Flat tables rather than node-based sets, which allocated once per message. mids_ is
    // indexed by the link's mid, lib_mids_ by libmosquitto's (0: not tracked).
    enum class kind : unsigned char { none, windowed, control };
    struct mid_entry {
        kind k = kind::none;
        std::uint32_t slot = 0; // in held_
    };
    std::vector<mid_entry> mids_;
    std::vector<std::uint16_t> lib_mids_;
    std::size_t windowed_ = 0; // mids_ entries that are kind::windowed
    int next_mid_ = 1;         // where the search for a free link mid starts
    // Slots reused (their strings keep their capacity).
    std::vector<held_message> held_;
    std::vector<std::uint32_t> free_;
    std::uint64_t order_ = 0;
};

} // namespace mb::bridge
