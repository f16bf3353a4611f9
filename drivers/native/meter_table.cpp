#include "drivers/native/meter_table.hpp"

namespace mb::drivers::native {

meter_table::entry& meter_table::add(const std::string& serial, std::string device, bool relayed) {
    native_meter m;
    m.status.device = std::move(device);
    m.status.state = model::device_state::offline;
    m.relayed = relayed;
    return adopt(serial, std::move(m));
}

meter_table::entry& meter_table::adopt(const std::string& serial, native_meter&& m) {
    auto& e = *meters_.emplace(serial, std::move(m)).first;
    return index(e);
}

meter_table::entry& meter_table::index(entry& e) {
    // The view is made once the name sits where it stays (moving a string may move its text).
    by_name_.emplace(std::string_view(e.second.status.device), &e);
    if (e.second.relayed) ++relayed_;
    return e;
}

meter_table::entry* meter_table::by_serial(const std::string& serial) {
    const auto it = meters_.find(serial);
    return it == meters_.end() ? nullptr : &*it;
}

meter_table::entry* meter_table::by_name(std::string_view device) {
    const auto it = by_name_.find(device);
    return it == by_name_.end() ? nullptr : it->second;
}

const meter_table::entry* meter_table::by_name(std::string_view device) const {
    const auto it = by_name_.find(device);
    return it == by_name_.end() ? nullptr : it->second;
}

void meter_table::erase(entry& e) {
    by_name_.erase(std::string_view(e.second.status.device)); // before the name goes
    if (e.second.relayed) --relayed_;
    meters_.erase(e.first);
}

std::vector<std::string>
meter_table::erase_relayed_if(const std::function<bool(const native_meter&)>& gone) {
    std::vector<std::string> names;
    for (auto it = meters_.begin(); it != meters_.end();) {
        auto& m = it->second;
        if (!m.relayed || !gone(m)) {
            ++it;
            continue;
        }
        by_name_.erase(std::string_view(m.status.device));
        names.push_back(std::move(m.status.device));
        --relayed_;
        it = meters_.erase(it);
    }
    return names;
}

std::vector<std::pair<std::string, native_meter>> meter_table::take_relayed() {
    std::vector<std::pair<std::string, native_meter>> out;
    out.reserve(relayed_);
    for (auto it = meters_.begin(); it != meters_.end();) {
        if (!it->second.relayed) {
            ++it;
            continue;
        }
        by_name_.erase(std::string_view(it->second.status.device));
        auto node = meters_.extract(it++);
        out.emplace_back(std::move(node.key()), std::move(node.mapped()));
    }
    relayed_ = 0;
    return out;
}

} // namespace mb::drivers::native
