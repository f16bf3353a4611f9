#pragma once
// The typed configuration (docs/configuration.md, a contract). Loaded and validated by
// load_config().
#include "drivers/modbus_rtu/profile.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mb::config {

using std::chrono::milliseconds;

enum class log_level : std::uint8_t { error, warn, info, debug };

struct gateway_config {
    std::string id;
    log_level level = log_level::info;
    std::vector<std::filesystem::path> profile_dirs{"/etc/meterbridge/profiles",
                                                    "/usr/share/meterbridge/profiles"};

    bool operator==(const gateway_config&) const = default;
};

// An mqtt:// or mqtts:// URL taken apart.
struct broker_url {
    std::string text; // as written
    bool tls = false;
    std::string host;
    int port = 1883;
};

// auto: MQTT 5, falling back to 3.1.1 when the broker refuses it.
enum class mqtt_protocol : std::uint8_t { automatic, v5, v311 };

// How to reach a broker: the keys [uplink] and [[native]] share, read by one function.
struct broker_options {
    broker_url url;
    std::string client_id; // default "meterbridge-" + gateway.id (+ "-" + native.name)
    std::optional<std::string> username;
    std::optional<std::filesystem::path> password_file;
    std::string password;                         // read from password_file; never logged
    std::optional<std::filesystem::path> ca_file; // mqtts: default system CAs
    std::optional<std::filesystem::path> cert_file;
    std::optional<std::filesystem::path> key_file;
    milliseconds keepalive{30'000};
    mqtt_protocol protocol = mqtt_protocol::automatic;
};

struct uplink_config : broker_options {
    std::string topic_prefix = "meterbridge";
    int max_inflight = 32;
    bool commands = true;
    // Set: commands must be signed with this key (docs/security.md).
    std::optional<std::filesystem::path> command_key_file;
    std::string command_key;            // read from command_key_file; never logged
    milliseconds reconnect_max{30'000}; // the reconnect back-off's cap (from 1 s, doubling)
};

enum class sync_mode : std::uint8_t { normal, full };

struct buffer_config {
    std::filesystem::path path = "/var/lib/meterbridge/buffer.db";
    std::uint64_t max_size = 256ULL << 20U;
    milliseconds max_age = std::chrono::hours(24 * 30);
    milliseconds flush_interval{1000};
    sync_mode sync = sync_mode::normal;
};

struct bus_config {
    std::string name;
    std::string port; // a serial device, tcp://HOST:PORT or rtu+tcp://HOST:PORT (port_address)
    int baud = 9600;
    char parity = 'N'; // 'N' | 'E' | 'O' as libmodbus wants it
    int data_bits = 8;
    int stop_bits = 1;
    milliseconds timeout{300};
    milliseconds request_gap{0}; // silence before every request, on top of t3.5
    bool rs485 = false;
    int max_gap = 8;
};

struct device_config {
    std::string name;
    std::string bus;
    int unit = 1;
    std::string profile;
    milliseconds interval{10'000};
    milliseconds static_interval{600'000}; // refresh of the profile's static values
    std::optional<double> ct_ratio;
    std::optional<double> pt_ratio;
    std::vector<std::string> only; // glob filter over the profile's values; empty = all
    // Set: replace the bus's for this meter's requests.
    std::optional<milliseconds> timeout;
    std::optional<milliseconds> request_gap;
    std::optional<double> max_power_w; // the counter guard's bound on energy rises
};

struct native_meter_config {
    std::string serial;
    std::string name;
    std::optional<double> max_power_w; // unset: the source's
};

// One [native.values] entry of the generic "json" format.
struct json_field {
    std::string path;
    double scale = 1.0;
};

enum class unknown_policy : std::uint8_t { relay, ignore };

struct native_config : broker_options {
    std::string name;
    std::string subscribe;
    std::string format; // acrel-json-v2 | acrel-shadow | json
    unknown_policy unknown = unknown_policy::relay;
    std::vector<native_meter_config> meters;
    std::optional<double> max_power_w; // for its meters, relayed ones too
    // A meter is offline after max(this, 3 × its observed interval) without a message.
    milliseconds offline_after{std::chrono::minutes(3)};
    // unknown = "relay" only: the most meters relayed as sn-<serial>, and how long one may be
    // silent before it is forgotten (its retained meta and status cleared, its place freed).
    std::size_t max_meters = 50'000;
    milliseconds forget_after = std::chrono::hours(24 * 7);
    // format = "json" only
    std::string serial_path;
    std::string ts_path;
    std::map<std::string, json_field> values;
};

// One problem in one file: "FILE:LINE:COL: key: what is wrong (what would be accepted)".
struct config_error {
    std::filesystem::path file;
    int line = 0;
    int column = 0;
    std::string key;     // dotted path, e.g. "device[2].unit"
    std::string message; // what is wrong (what would be accepted)

    [[nodiscard]] std::string to_string() const;
};

// Something valid that deserves a word, in the same shape: "FILE:LINE:COL: key: message".
using config_warning = config_error;

struct config {
    std::filesystem::path source; // the file it was loaded from
    gateway_config gateway;
    uplink_config uplink;
    buffer_config buffer;
    std::vector<bus_config> buses;
    std::vector<device_config> devices;
    std::vector<native_config> natives;
    std::map<std::string, drivers::rtu::profile> profiles; // by id: the ones devices use
    // Valid, but worth a word: `check` prints them, `run` logs them (with secret_warnings()).
    std::vector<config_warning> warnings;
};

} // namespace mb::config
