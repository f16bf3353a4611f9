// Fuzz target: random register images, types, word orders, bits and scales through the codec
// and the read planner; decoding must never crash, and encode -> decode must round-trip.
#include "drivers/modbus_rtu/codec.hpp"
#include "drivers/modbus_rtu/poll_decode.hpp"
#include "drivers/modbus_rtu/read_planner.hpp"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <vector>

using namespace mb::drivers::rtu;

namespace {
struct input {
    const std::uint8_t* p;
    std::size_t n;
    std::uint8_t byte() {
        if (n == 0) return 0;
        --n;
        return *p++;
    }
    std::uint16_t word() { return static_cast<std::uint16_t>(byte() << 8U | byte()); }
};
constexpr double scales[] = {1.0, 0.1, 0.01, 0.001, 10.0, 1000.0, 0.5, 0.25, 2.5, 1e-6};
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    input in{data, size};
    profile p;
    p.order = in.byte() & 1U ? word_order::low_first : word_order::high_first;
    p.max_read = 1 + in.byte() % 130;
    p.secondary = in.byte() & 1U;
    const int nvalues = in.byte() % 40;
    for (int i = 0; i < nvalues; ++i) {
        value_def v;
        v.name = i % 7 == 0 ? "pt_ratio" : i % 11 == 0 ? "ct_ratio" : "v" + std::to_string(i);
        v.address = in.word();
        v.type = static_cast<value_type>(in.byte() % 9);
        v.function = in.byte() & 1U ? function_code::input : function_code::holding;
        v.scale = scales[in.byte() % std::size(scales)];
        v.ratio = static_cast<ratio_kind>(in.byte() % 4);
        v.bit = in.byte() % 18;
        p.values.push_back(v);
    }
    plan_options opt;
    opt.max_gap = in.byte() % 20;
    auto plan = plan_reads(p, opt);
    // every value in exactly one request, no request over max_read unless one value needs it
    std::vector<int> seen(plan.values.size(), 0);
    for (const auto& r : plan.requests) {
        if (r.count > 125) std::abort();
        for (auto i : r.values)
            ++seen[i];
    }
    for (int s : seen)
        if (s != 1) std::abort();
    // a register image answers each request, some requests fail, some get split
    std::vector<request_result> results;
    for (std::size_t i = 0; i < plan.requests.size(); ++i) {
        if (in.byte() % 5 == 0) plan.split(i);
        request_result rr{plan.requests[i], {}, in.byte() % 4 != 0};
        const int len = in.byte() % 3 == 0 ? in.byte() % 8 : plan.requests[i].count;
        for (int k = 0; k < len; ++k)
            rr.regs.push_back(in.word());
        results.push_back(std::move(rr));
    }
    auto d = decode_results(plan, results);
    for (const auto& [name, value] : d.values)
        if (!std::isfinite(value)) std::abort();
    // encode -> decode round trip of an integral value for integer types
    for (const auto& v : plan.values) {
        if (v.type == value_type::bits) continue;
        const double x = static_cast<double>(in.word() % 1000) * v.scale;
        auto e = encode_value(x, v, p.order);
        if (!e.ok()) continue;
        auto back = decode_value(e.regs, v, p.order);
        if (!back || std::fabs(*back - x) > 1e-9 * std::max(1.0, std::fabs(x))) std::abort();
    }
    return 0;
}
