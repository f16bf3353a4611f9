#include "bridge/topics.hpp"

#include <algorithm>

namespace mb::bridge {

topics::topics(std::string prefix, std::string gateway_id)
    : base_(std::move(prefix) + "/" + std::move(gateway_id) + "/") {}

std::string topics::gateway_status() const {
    return base_ + "status";
}
std::string topics::meta(std::string_view dev) const {
    return device_topic(dev, "meta");
}
std::string topics::status(std::string_view dev) const {
    return device_topic(dev, "status");
}
std::string topics::data(std::string_view dev) const {
    return device_topic(dev, "data");
}
std::string topics::gap(std::string_view dev) const {
    return device_topic(dev, "gap");
}
std::string topics::event(std::string_view dev) const {
    return device_topic(dev, "event");
}
std::string topics::cmd(std::string_view dev) const {
    return device_topic(dev, "cmd");
}
std::string topics::cmd_result(std::string_view dev) const {
    return device_topic(dev, "cmd/result");
}
std::string topics::cmd_filter() const {
    return base_ + "+/cmd";
}

std::string topics::device_topic(std::string_view dev, std::string_view kind) const {
    std::string t;
    t.reserve(base_.size() + dev.size() + 1 + kind.size());
    t.append(base_).append(dev).append("/").append(kind);
    return t;
}

std::optional<std::string> topics::device_of_cmd(std::string_view topic) const {
    constexpr std::string_view suffix = "/cmd";
    if (topic.size() <= base_.size() + suffix.size()) return std::nullopt;
    if (topic.substr(0, base_.size()) != base_) return std::nullopt;
    if (topic.substr(topic.size() - suffix.size()) != suffix) return std::nullopt;
    const auto dev = topic.substr(base_.size(), topic.size() - base_.size() - suffix.size());
    if (!valid_name(dev)) return std::nullopt;
    return std::string(dev);
}

bool valid_name(std::string_view name) {
    if (name.empty() || name.size() > 64) return false;
    auto lower_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (!lower_digit(name.front())) return false;
    return std::ranges::all_of(name,
                               [&](char c) { return lower_digit(c) || c == '_' || c == '-'; });
}

} // namespace mb::bridge
