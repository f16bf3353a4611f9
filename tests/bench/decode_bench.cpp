// What one native payload costs to decode on the loop thread (issue 9): ns per decode() of an
// ADW300 json-v2 message with the full id list 0–72, of the trimmed public capture, of the
// AWT200 shadow update capture and of a generic `json` object, and beside each the bare
// nlohmann parse of the same bytes (a DOM tree: what the shadow and json decoders build; the
// json-v2 decoder reads the text as a stream and builds none). The json-v2 payload with an
// escaped serial times its exact path (nlohmann's SAX parser, for text its own reader leaves).
// Each figure is the best and the median of 9 rounds of `per_round` decodes. Runs in about 6 s.
#include "drivers/native/decoder.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace {

using namespace mb::drivers::native;
using clock_type = std::chrono::steady_clock;
constexpr int rounds = 9;
constexpr int per_round = 20000;

// Every id 0–72 once, as an ADW300 sends them (numbers, the serial and ICCID strings).
std::string all_ids_payload() {
    std::string p = R"({"data":[{"tp":1736871132698,"point":[{"id":0,"val":"24102809510006"})";
    for (int id = 1; id <= 72; ++id) {
        std::string val = std::to_string(id * 3) + ".25";
        if (id == 33) val = R"("8923420037880998454F")";
        if (id == 41) val = "5";
        p += R"(,{"id":)" + std::to_string(id) + R"(,"val":)" + val + "}";
    }
    return p + "]}]}";
}

const std::string trimmed_capture =
    R"({"data":[{"tp":1736871132698,"point":[{"id":0,"val":"24102809510006"},{"id":1,"val":0},{"id":2,"val":211.4},{"id":4,"val":211.4},{"id":5,"val":211.4},{"id":22,"val":1},{"id":26,"val":50.23},{"id":27,"val":14},{"id":33,"val":"8923420037880998454F"},{"id":34,"val":1},{"id":35,"val":2}]}]})";

const std::string shadow_capture =
    R"({"msgid":"571","method":"update","sn":"24120405680002","timestamp":1738468200,"sendtime":1738468200,"version":1,"reported":{"0_24120405680027":{"state":"ONLINE","EP":"21.60","EPI":"21.60","EPIJ":"0.00","EPIF":"0.00","EPIP":"21.60","EPIG":"0.00","EPE":"0.00","EQ":"1.60","EQL":"1.60","EQC":"0.00","Ua":"226.0","Ub":"0.0","Uc":"228.1","Ia":"0.0","Ib":"0.0","Ic":"0.0","Pa":"0.0","Pb":"0.0","Pc":"0.0","P":"0.0","Qa":"0.0","Qb":"0.0","Qc":"0.0","Q":"0.0","PFa":"0.0","PFb":"0.0","PFc":"0.0","PF":"0.0","Fr":"50.1","Uab":"226.0","Ubc":"228.1","Uac":"393.2","Uub":"150.6","Iub":"0.0"}}})";

const std::string json_object =
    R"({"sn":"m-17","time":"2025-01-16T10:05:00.250+08:00","ua":"230.1","ub":230.4,"uc":229.9,"p":1.5,"e":{"import":12345.67}})";

struct figure {
    double best_ns = 0;
    double median_ns = 0;
};

figure time_it(const std::function<std::size_t()>& once) {
    std::size_t sink = 0;
    for (int i = 0; i < per_round / 10; ++i) // warm the caches and the allocator
        sink += once();
    std::vector<double> ns;
    for (int r = 0; r < rounds; ++r) {
        const auto start = clock_type::now();
        for (int i = 0; i < per_round; ++i)
            sink += once();
        const std::chrono::duration<double, std::nano> took = clock_type::now() - start;
        ns.push_back(took.count() / per_round);
    }
    std::sort(ns.begin(), ns.end());
    if (sink == 0) std::puts("(nothing decoded)"); // keeps the work observable
    return {ns.front(), ns[ns.size() / 2]};
}

void report(const char* what, const decoder& d, std::string_view topic,
            const std::string& payload) {
    const auto check = d.decode(topic, payload);
    const std::size_t values = check.readings.empty() ? 0 : check.readings[0].values.size();
    const auto decode = time_it([&] {
        const auto r = d.decode(topic, payload);
        return r.readings.size() + (r.readings.empty() ? 0 : r.readings[0].values.size());
    });
    const auto parse =
        time_it([&] { return nlohmann::json::parse(payload.begin(), payload.end()).size(); });
    std::printf("%-34s %5zu B %3zu values  decode %7.0f ns (median %7.0f)  parse alone %7.0f ns"
                "  error: %s\n",
                what, payload.size(), values, decode.best_ns, decode.median_ns, parse.best_ns,
                check.error.empty() ? "none" : check.error.c_str());
}

} // namespace

int main() {
    format_settings s;
    s.format = "acrel-json-v2";
    const auto json_v2 = make_decoder(s);
    s.format = "acrel-shadow";
    const auto shadow = make_decoder(s);
    s.format = "json";
    s.serial_path = "sn";
    s.ts_path = "time";
    s.values = {{"voltage_l1", {"ua", 1.0}},
                {"voltage_l2", {"ub", 1.0}},
                {"voltage_l3", {"uc", 1.0}},
                {"active_power_total", {"p", 1000.0}},
                {"energy_import_total", {"e.import", 1.0}}};
    const auto json_map = make_decoder(s);

    const std::string topic = "platform/acrel/meter/json-v2/analog/0000";
    report("acrel-json-v2, ids 0-72", *json_v2, topic, all_ids_payload());
    report("acrel-json-v2, reference capture", *json_v2, topic, trimmed_capture);
    std::string escaped = all_ids_payload();
    escaped.replace(escaped.find("24102809510006"), 14, R"(2410280951000\u0036)");
    report("acrel-json-v2, ids 0-72, escape", *json_v2, topic, escaped);
    report("acrel-shadow, AWT200 update", *shadow, "data/up/pk/24120405680002", shadow_capture);
    report("json, 5 values + ISO ts", *json_map, "site/m17/meter", json_object);
    return 0;
}
