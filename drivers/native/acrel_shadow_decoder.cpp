#include "drivers/native/acrel_shadow_decoder.hpp"

#include "drivers/native/json_input.hpp"
#include "model/measurements.hpp"

#include <algorithm>
#include <array>

namespace mb::drivers::native {
namespace {

struct key_entry {
    std::string_view key;
    std::string_view name;
    std::string_view unit; // assumed, see the header
};

// The header's table.
constexpr std::array key_table = {
    key_entry{"Ua", "voltage_l1", "V"},
    key_entry{"Ub", "voltage_l2", "V"},
    key_entry{"Uc", "voltage_l3", "V"},
    key_entry{"Uab", "voltage_l1_l2", "V"},
    key_entry{"Ubc", "voltage_l2_l3", "V"},
    key_entry{"Uca", "voltage_l3_l1", "V"},
    key_entry{"Uac", "voltage_l3_l1", "V"},
    key_entry{"Ia", "current_l1", "A"},
    key_entry{"Ib", "current_l2", "A"},
    key_entry{"Ic", "current_l3", "A"},
    key_entry{"In", "current_n", "A"},
    key_entry{"Pa", "active_power_l1", "kW"},
    key_entry{"Pb", "active_power_l2", "kW"},
    key_entry{"Pc", "active_power_l3", "kW"},
    key_entry{"P", "active_power_total", "kW"},
    key_entry{"Qa", "reactive_power_l1", "kvar"},
    key_entry{"Qb", "reactive_power_l2", "kvar"},
    key_entry{"Qc", "reactive_power_l3", "kvar"},
    key_entry{"Q", "reactive_power_total", "kvar"},
    key_entry{"Sa", "apparent_power_l1", "kVA"},
    key_entry{"Sb", "apparent_power_l2", "kVA"},
    key_entry{"Sc", "apparent_power_l3", "kVA"},
    key_entry{"S", "apparent_power_total", "kVA"},
    key_entry{"PFa", "power_factor_l1", "1"},
    key_entry{"PFb", "power_factor_l2", "1"},
    key_entry{"PFc", "power_factor_l3", "1"},
    key_entry{"PF", "power_factor_total", "1"},
    key_entry{"Fr", "frequency", "Hz"},
    key_entry{"Uub", "voltage_unbalance", "%"},
    key_entry{"Iub", "current_unbalance", "%"},
    key_entry{"EP", "energy_active_combined_total", "kWh"},
    key_entry{"EPI", "energy_import_total", "kWh"},
    key_entry{"EPIJ", "energy_import_tariff_sharp", "kWh"},
    key_entry{"EPIF", "energy_import_tariff_peak", "kWh"},
    key_entry{"EPIP", "energy_import_tariff_flat", "kWh"},
    key_entry{"EPIG", "energy_import_tariff_valley", "kWh"},
    key_entry{"EPE", "energy_export_total", "kWh"},
    key_entry{"EPEJ", "energy_export_tariff_sharp", "kWh"},
    key_entry{"EPEF", "energy_export_tariff_peak", "kWh"},
    key_entry{"EPEP", "energy_export_tariff_flat", "kWh"},
    key_entry{"EPEG", "energy_export_tariff_valley", "kWh"},
    key_entry{"EQ", "energy_reactive_combined_total", "kvarh"},
};

const key_entry* find_key(std::string_view key) {
    const auto* it = std::find_if(key_table.begin(), key_table.end(),
                                  [&](const key_entry& k) { return k.key == key; });
    return it == key_table.end() ? nullptr : it;
}

bool is_data_method(std::string_view method) {
    return method == "report" || method == "update" || method == "update_silent";
}

// "8 or more digits, nothing else": what Acrel meter serials look like.
bool looks_like_meter_serial(std::string_view s) {
    return s.size() >= 8 &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c + 32) : c; };
               return lower(x) == lower(y);
           });
}

// What the whole message gives every meter in it.
struct message {
    std::optional<std::int64_t> ts_ms;
    std::optional<std::string> sn; // top-level sn, for meters[] addrs that are not serials
    decode_result& out;
    problem_list& problems;
};

// A meter object's `state` and value keys; `where` names the object ("reported.meters[0]").
void decode_meter_keys(const json& meter, const std::string& where, decoded_reading& r,
                       message& m) {
    for (const auto& [key, val] : meter.items()) {
        if (key == "addr") continue;
        if (key == "state") {
            if (val.is_string() &&
                equals_ignoring_case(val.get_ref<const std::string&>(), "ONLINE"))
                r.state = model::device_state::online;
            else if (val.is_string() &&
                     equals_ignoring_case(val.get_ref<const std::string&>(), "OFFLINE"))
                r.state = model::device_state::offline;
            else
                m.problems.add(where + ".state",
                               (val.is_string()
                                    ? "\"" + printable(val.get_ref<const std::string&>()) + "\""
                                    : std::string(type_name(val))) +
                                   " where ONLINE or OFFLINE is expected");
            continue;
        }
        const key_entry* k = find_key(key);
        if (k == nullptr) {
            ++m.out.skipped;
            continue;
        }
        const auto number = to_number(val);
        if (number.value)
            r.values.push_back({k->name, *number.value, k->unit});
        else if (number.no_value)
            ++m.out.skipped;
        else
            m.problems.add(where + "." + printable(key, 64), number.problem);
    }
}

void decode_listed_meter(const json& meter, std::size_t index, message& m) {
    const std::string where = "reported.meters[" + std::to_string(index) + "]";
    if (!meter.is_object()) {
        m.problems.add(where, std::string(type_name(meter)) + " where an object is expected");
        return;
    }
    const auto addr = meter.find("addr");
    if (addr == meter.end()) {
        m.problems.add(where + ".addr", "missing");
        return;
    }
    std::string problem;
    auto addr_text = to_serial(*addr, problem);
    if (!addr_text) {
        m.problems.add(where + ".addr", problem);
        return;
    }
    decoded_reading r;
    if (looks_like_meter_serial(*addr_text)) {
        r.serial = std::move(*addr_text);
    } else if (m.sn) {
        r.serial = *m.sn + "-" + *addr_text;
    } else {
        m.problems.add(where + ".addr", "\"" + printable(*addr_text) +
                                            "\" is not a meter serial and the message has no sn");
        return;
    }
    r.ts_ms = m.ts_ms;
    decode_meter_keys(meter, where, r, m);
    m.out.readings.push_back(std::move(r));
}

void decode_channel_meter(const std::string& key, const json& meter, message& m) {
    const std::string where = "reported." + printable(key, 64);
    const auto underscore = key.find('_');
    if (underscore == std::string::npos || underscore + 1 == key.size()) {
        m.problems.add(where, "not <channel>_<serial>");
        return;
    }
    std::string problem;
    auto serial = to_serial(json(key.substr(underscore + 1)), problem);
    if (!serial) {
        m.problems.add(where, problem);
        return;
    }
    decoded_reading r;
    r.serial = std::move(*serial);
    r.ts_ms = m.ts_ms;
    decode_meter_keys(meter, where, r, m);
    m.out.readings.push_back(std::move(r));
}

void decode_reported(const json& reported, message& m) {
    for (const auto& [key, val] : reported.items()) {
        if (key == "source") continue; // REALTIME or HISTORY: both are readings with their time
        if (key == "meters") {
            if (!val.is_array()) {
                m.problems.add("reported.meters",
                               std::string(type_name(val)) + " where an array is expected");
                continue;
            }
            for (std::size_t i = 0; i < val.size(); ++i)
                decode_listed_meter(val[i], i, m);
        } else if (key == "gateway") {
            m.out.skipped += val.is_object() ? val.size() : 1; // the gateway's, not a meter's
        } else if (val.is_object()) {
            decode_channel_meter(key, val, m);
        } else {
            ++m.out.skipped;
        }
    }
}

void decode_document(const json& doc, decode_result& out, problem_list& problems) {
    if (!doc.is_object()) {
        out.error = "top level: " + std::string(type_name(doc)) +
                    " where an object with \"method\" is expected";
        return;
    }
    const auto method = doc.find("method");
    if (method == doc.end() || !method->is_string()) {
        out.error = method == doc.end() ? std::string("method: missing")
                                        : "method: " + std::string(type_name(*method)) +
                                              " where a string is expected";
        return;
    }
    if (!is_data_method(method->get_ref<const std::string&>())) {
        ++out.skipped; // control, get, delete, …: nothing measured
        return;
    }
    message m{.ts_ms = {}, .sn = {}, .out = out, .problems = problems};
    if (const auto ts = doc.find("timestamp"); ts != doc.end()) {
        const auto t = to_number(*ts);
        if (t.value) {
            m.ts_ms = to_ms(*t.value, 1000);
            if (!m.ts_ms) problems.add("timestamp", json(*t.value).dump() + " is out of range");
        } else if (!t.no_value) {
            problems.add("timestamp", t.problem); // the values still count, at arrival time
        }
    }
    if (const auto sn = doc.find("sn"); sn != doc.end()) {
        std::string problem;
        m.sn = to_serial(*sn, problem); // only needed for meters[] addrs: complain there
    }
    const auto reported = doc.find("reported");
    if (reported == doc.end() || !reported->is_object()) {
        problems.add("reported", reported == doc.end() ? std::string("missing")
                                                       : std::string(type_name(*reported)) +
                                                             " where an object is expected");
        return;
    }
    decode_reported(*reported, m);
}

} // namespace

decode_result acrel_shadow_decoder::decode(std::string_view /*topic*/,
                                           std::string_view payload) const {
    decode_result out;
    try {
        json doc;
        out.error = parse_limited(payload, doc);
        if (!out.error.empty()) return out;
        problem_list problems;
        decode_document(doc, out, problems);
        if (out.error.empty()) out.error = problems.text();
    } catch (...) { // nothing leaves decode()
        out.error = decode_failure();
    }
    return out;
}

std::map<std::string, std::string> acrel_shadow_decoder::units() const {
    std::map<std::string, std::string> out;
    for (const auto& k : key_table)
        out.emplace(k.name, model::unit_of(k.name).value_or(""));
    return out;
}

} // namespace mb::drivers::native
