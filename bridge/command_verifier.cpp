#include "bridge/command_verifier.hpp"

#include "bridge/hmac_sha256.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

namespace mb::bridge {
namespace {

using json = nlohmann::json;

constexpr std::string_view sig_member = R"(,"sig":")";
constexpr std::size_t sig_hex_digits = 64;
constexpr std::string_view sig_end = R"("})";
constexpr std::size_t sig_tail = sig_member.size() + sig_hex_digits + sig_end.size();
// Year 3000: a ts past it (or below 0) is not a time in Unix milliseconds.
constexpr std::int64_t latest_ts = 32'503'680'000'000;

struct split_payload {
    std::string_view hex; // the 64 digits
    std::string body;     // the payload with ,"sig":"…" taken out
};

// The signature member is the last one, written exactly so: a sender can append it to the
// bytes it signed, and nothing but those bytes needs to be agreed on (no canonical JSON).
std::optional<split_payload> split(std::string_view payload) {
    if (payload.size() < sig_tail + 1 || !payload.ends_with(sig_end)) return std::nullopt;
    const auto at = payload.size() - sig_tail;
    if (payload.substr(at, sig_member.size()) != sig_member) return std::nullopt;
    split_payload out;
    out.hex = payload.substr(at + sig_member.size(), sig_hex_digits);
    out.body = std::string(payload.substr(0, at)) + "}";
    return out;
}

} // namespace

command_verifier::command_verifier(std::string key, const common::clock& clock)
    : key_(std::move(key))
    , clock_(clock)
    , started_ms_(clock.unix_ms()) {}

verified_command command_verifier::check(std::string_view topic,
                                         std::string_view payload) noexcept {
    try {
        return verify(topic, payload);
    } catch (const std::exception& e) { // allocation failures only
        verified_command out;
        out.error = fmt::format("command refused: {}", e.what());
        return out;
    }
}

verified_command command_verifier::verify(std::string_view topic, std::string_view payload) {
    verified_command out;
    const auto parts = split(payload);
    if (!parts) {
        out.error = payload.find(R"("sig")") == std::string_view::npos
                        ? "unsigned command refused: this gateway takes signed commands only "
                          "(\"ts\" and \"sig\", see docs/security.md)"
                        : "sig: must be the last member, written ,\"sig\":\"<64 hex digits>\"} "
                          "with nothing after it";
        return out;
    }
    const auto claimed = mac_from_hex(parts->hex);
    if (!claimed) {
        out.error = "sig: must be 64 hex digits";
        return out;
    }
    const auto mac = hmac_sha256(key_, fmt::format("{}\n{}", topic, parts->body));
    if (!mac || !same_mac(*mac, *claimed)) {
        out.error = "sig: does not match (another key, or the command changed on its way)";
        return out;
    }
    const json doc = json::parse(parts->body, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
        out.error = doc.is_discarded() ? "malformed JSON" : "command must be a JSON object";
        return out;
    }
    const auto ts = doc.find("ts");
    const auto id = doc.find("id");
    if (ts == doc.end() || !ts->is_number_integer()) {
        out.error = "ts: missing or not an integer (a signed command carries its time, Unix "
                    "milliseconds)";
        return out;
    }
    if (id == doc.end() || (!id->is_string() && !id->is_number())) {
        out.error = "id: missing (a signed command needs an id, used once)";
        return out;
    }
    const std::int64_t now = clock_.unix_ms();
    const std::int64_t when = ts->is_number_unsigned() && ts->get<std::uint64_t>() > latest_ts
                                  ? -1
                                  : ts->get<std::int64_t>();
    out.error = check_time(when, now);
    if (out.error.empty())
        out.error = remember(
            fmt::format("{}\n{}", topic, id->dump(-1, ' ', false, json::error_handler_t::replace)),
            when, now);
    if (out.error.empty()) out.body = parts->body;
    return out;
}

std::string command_verifier::check_time(std::int64_t ts, std::int64_t now) const {
    if (ts < 0 || ts > latest_ts)
        return fmt::format("ts: {} is not a time in Unix milliseconds", ts);
    const std::int64_t off = ts - now;
    const std::int64_t limit = window.count();
    if (off > limit || off < -limit)
        return fmt::format("ts: {} s {} the gateway's clock (at most {} s either way)",
                           (off < 0 ? -off : off) / 1000, off < 0 ? "behind" : "ahead of",
                           limit / 1000);
    if (ts < started_ms_)
        return fmt::format("ts: signed {} ms before this gateway began taking commands, which "
                           "cannot tell whether it was used before; sign it again",
                           started_ms_ - ts);
    return {};
}

std::string command_verifier::remember(const std::string& key, std::int64_t ts, std::int64_t now) {
    // What is older than the window can never pass check_time again: no need to keep it.
    std::erase_if(seen_, [&](const auto& entry) { return entry.second < now - window.count(); });
    if (seen_.contains(key))
        return fmt::format("id: already used on this topic within the last {} s (a replay, or "
                           "an id given twice)",
                           window.count() / 1000);
    if (seen_.size() >= max_remembered)
        return fmt::format("too many signed commands within {} s (at most {}); try again later",
                           window.count() / 1000, max_remembered);
    seen_.emplace(key, ts);
    return {};
}

} // namespace mb::bridge
