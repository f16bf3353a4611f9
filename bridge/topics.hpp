#pragma once
// The topic scheme of docs/topics.md (a contract): {p}/{gw}/status and {p}/{gw}/{dev}/<kind>.
#include <optional>
#include <string>
#include <string_view>

namespace mb::bridge {

class topics {
public:
    topics(std::string prefix, std::string gateway_id);

    [[nodiscard]] std::string gateway_status() const;             // {p}/{gw}/status
    [[nodiscard]] std::string meta(std::string_view dev) const;   // {p}/{gw}/{dev}/meta
    [[nodiscard]] std::string status(std::string_view dev) const; // {p}/{gw}/{dev}/status
    [[nodiscard]] std::string data(std::string_view dev) const;   // {p}/{gw}/{dev}/data
    [[nodiscard]] std::string gap(std::string_view dev) const;    // {p}/{gw}/{dev}/gap
    [[nodiscard]] std::string event(std::string_view dev) const;  // {p}/{gw}/{dev}/event
    [[nodiscard]] std::string cmd(std::string_view dev) const;    // {p}/{gw}/{dev}/cmd
    [[nodiscard]] std::string cmd_result(std::string_view dev) const;
    [[nodiscard]] std::string cmd_filter() const; // {p}/{gw}/+/cmd, what the uplink subscribes

    // The device of a topic matching cmd_filter(), or nullopt for anything else (including a
    // device level that is not a valid device name).
    [[nodiscard]] std::optional<std::string> device_of_cmd(std::string_view topic) const;

private:
    [[nodiscard]] std::string device_topic(std::string_view dev, std::string_view kind) const;
    std::string base_; // "{p}/{gw}/"
};

// [a-z0-9][a-z0-9_-]{0,63}: gateway ids and device names (docs/configuration.md).
bool valid_name(std::string_view name);

} // namespace mb::bridge
