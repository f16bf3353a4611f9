#include "bridge/retained_devices.hpp"

#include "bridge/payloads.hpp"

#include <utility>

namespace mb::bridge {

retained_devices::status_mark retained_devices::mark_of(const model::device_status& s) {
    status_mark m;
    m.state = s.state;
    m.has_error = s.last_error.has_value();
    m.error = m.has_error ? std::hash<std::string>{}(*s.last_error) : 0;
    m.polls = s.polls;
    m.errors = s.errors;
    if (s.line) m.line_events = s.line->timeouts + s.line->skipped;
    m.glitches = s.glitches;
    return m;
}

void retained_devices::enqueue(const std::string& name, record& r) {
    if (r.queued) return;
    r.queued = true;
    due_.push_back(name);
}

void retained_devices::set_info(const std::string& name, model::device_info&& d) {
    auto& r = records_[name];
    if (!r.info) ++known_;
    const auto hash = std::hash<std::string>{}(meta_payload(d));
    r.info = std::move(d);
    if (hash == r.meta_hash && !r.meta_due) return;
    r.meta_hash = hash;
    r.meta_due = true;
    enqueue(name, r);
}

bool retained_devices::replace_all(std::vector<model::device_info> devices) {
    const auto before = known_;
    std::set<std::string_view> next;
    for (const auto& d : devices)
        next.insert(d.name);
    for (auto it = records_.begin(); it != records_.end();) {
        if (next.contains(it->first)) {
            ++it;
            continue;
        }
        // Gone from the configuration: what it published is cleared (an empty retained
        // payload on both topics), now or on the next connect.
        if (it->second.info || it->second.published) to_clear_.insert(it->first);
        if (it->second.info) --known_;
        it = records_.erase(it);
    }
    for (const auto& name : before_)
        if (!next.contains(name)) to_clear_.insert(name);
    before_.clear();
    for (auto& d : devices) {
        auto name = d.name;
        set_info(name, std::move(d));
    }
    return known_ != before;
}

bool retained_devices::update(std::vector<model::device_info> changed) {
    const auto before = known_;
    for (auto& d : changed) {
        auto name = d.name;
        set_info(name, std::move(d));
    }
    return known_ != before;
}

bool retained_devices::remove(const std::vector<std::string>& names) {
    const auto before = known_;
    for (const auto& name : names) {
        const auto it = records_.find(name);
        if (it == records_.end()) continue;
        if (it->second.info) --known_;
        records_.erase(it);
        to_clear_.insert(name);
    }
    return known_ != before;
}

void retained_devices::published_before(std::vector<std::string> names) {
    for (auto& n : names)
        before_.insert(std::move(n));
}

void retained_devices::set_status(const model::device_status& s, bool counters) {
    auto& r = records_[s.device];
    r.status = s;
    if (r.status_due) return;
    const auto now = mark_of(s);
    if (r.published) {
        const auto& p = *r.published;
        const bool same_state =
            p.state == now.state && p.has_error == now.has_error && p.error == now.error;
        if (same_state &&
            (!counters || (p.polls == now.polls && p.errors == now.errors &&
                           p.line_events == now.line_events && p.glitches == now.glitches)))
            return;
    }
    r.status_due = true;
    enqueue(s.device, r);
}

void retained_devices::resend_all() {
    due_.clear();
    for (auto& [name, r] : records_) {
        r.meta_due = r.info.has_value();
        r.status_due = r.status.has_value();
        r.queued = false;
        if (r.meta_due || r.status_due) enqueue(name, r);
    }
}

std::optional<retained_devices::message> retained_devices::next() {
    if (!to_clear_.empty()) {
        auto node = to_clear_.extract(to_clear_.begin());
        return message{std::move(node.value()), kind::clear, {}};
    }
    while (!due_.empty()) {
        const auto it = records_.find(due_.front());
        if (it == records_.end()) { // removed meanwhile
            due_.pop_front();
            continue;
        }
        auto& r = it->second;
        if (r.meta_due && r.info) {
            r.meta_due = false;
            return message{it->first, kind::meta, meta_payload(*r.info)};
        }
        r.meta_due = false;
        if (r.status_due && r.status) {
            r.status_due = false;
            r.published = mark_of(*r.status);
            r.queued = false;
            due_.pop_front();
            return message{it->first, kind::status, status_payload(*r.status)};
        }
        r.status_due = false;
        r.queued = false;
        due_.pop_front();
    }
    return std::nullopt;
}

const model::device_info* retained_devices::info(std::string_view device) const {
    const auto it = records_.find(device);
    return it == records_.end() || !it->second.info ? nullptr : &*it->second.info;
}

} // namespace mb::bridge
