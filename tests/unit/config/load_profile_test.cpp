// load_profile: one case per class of profile error, located in the profile file.
#include "config_fixture.hpp"
#include "daemon/config/load_profile.hpp"

using namespace mb::config;
using namespace mb::config::test;
namespace rtu = mb::drivers::rtu;

namespace {

std::vector<config_error> profile_errors(const temp_dir& t, const std::string& id,
                                         const std::string& text) {
    const auto file = t.write("profiles/" + id + ".toml", text);
    auto r = load_profile(file);
    if (auto* e = std::get_if<std::vector<config_error>>(&r)) {
        for (const auto& err : *e)
            BOOST_TEST(err.file == file);
        return *e;
    }
    return {};
}

const std::string value_head = "id = \"p\"\n"; // line 1

} // namespace

BOOST_AUTO_TEST_SUITE(profiles)

BOOST_AUTO_TEST_CASE(loads_with_defaults) {
    temp_dir t;
    auto r = load_profile(t.path / "profiles/meter-a.toml");
    BOOST_REQUIRE(std::holds_alternative<rtu::profile>(r));
    const auto& p = std::get<rtu::profile>(r);
    BOOST_TEST(p.id == "meter-a");
    BOOST_TEST(p.vendor == "V");
    BOOST_TEST((p.function == rtu::function_code::holding));
    BOOST_TEST((p.order == rtu::word_order::high_first));
    BOOST_TEST(p.max_read == 125);
    BOOST_TEST(!p.secondary);
    BOOST_REQUIRE(p.values.size() == 3U);
    BOOST_TEST(p.values[0].address == 0x10);
    BOOST_TEST(p.values[0].scale == 0.1);
    BOOST_TEST((p.values[1].type == rtu::value_type::u32));
    BOOST_TEST((p.values[2].type == rtu::value_type::bits));
}

BOOST_AUTO_TEST_CASE(every_key) {
    temp_dir t;
    const auto file = t.write("profiles/full.toml", R"(id = "full"
vendor = "V"
model = "M"
function = "input"
word_order = "low_first"
max_read = 60
ratios = "secondary"
[[value]]
name = "current_l1"
address = 0xFFFE
type = "f32"
scale = 0.001
ratio = "ct"
[[value]]
name = "do_1"
address = 5
type = "u16"
function = "holding"
writable = true
min = 0
max = 1
[[value]]
name = "ct_ratio"
address = 6
type = "u16"
static = true
)");
    auto r = load_profile(file);
    BOOST_REQUIRE(std::holds_alternative<rtu::profile>(r));
    const auto& p = std::get<rtu::profile>(r);
    BOOST_TEST((p.function == rtu::function_code::input));
    BOOST_TEST((p.order == rtu::word_order::low_first));
    BOOST_TEST(p.secondary);
    BOOST_TEST((p.values[0].function == rtu::function_code::input)); // the profile default
    BOOST_TEST((p.values[0].ratio == rtu::ratio_kind::ct));
    BOOST_TEST((p.values[1].function == rtu::function_code::holding));
    BOOST_TEST(p.values[1].writable);
    BOOST_TEST(*p.values[1].max == 1.0);
    BOOST_TEST(!p.values[1].is_static);
    BOOST_TEST(p.values[2].is_static);
}

BOOST_AUTO_TEST_CASE(id_must_match_file_stem) {
    temp_dir t;
    const auto e =
        profile_errors(t, "p", "id = \"q\"\n[[value]]\nname = \"frequency\"\naddress = 1\n");
    expect_error(e, "id", 1, 6, "does not match the file name");
}

BOOST_AUTO_TEST_CASE(unknown_keys_and_bad_types) {
    temp_dir t;
    const auto e = profile_errors(t, "p", value_head + R"(colour = 1
[[value]]
name = "frequency"
address = "0x14"
unit = "Hz"
)");
    expect_error(e, "colour", 2, 1, "unknown key");
    expect_error(e, "value[0].address", 5, 11, "a string where an integer");
    expect_error(e, "value[0].unit", 6, 1, "unknown key");
}

BOOST_AUTO_TEST_CASE(measurement_address_and_type) {
    temp_dir t;
    const auto e = profile_errors(t, "p", value_head + R"([[value]]
name = "volts"
address = 70000
type = "u8"
)");
    expect_error(e, "value[0].name", 3, 8, "not a measurement name");
    expect_error(e, "value[0].address", 4, 11, "0..65535");
    expect_error(e, "value[0].type", 5, 8, "u16 | i16");
}

BOOST_AUTO_TEST_CASE(profile_level_words_and_ranges) {
    temp_dir t;
    const auto e = profile_errors(t, "p", value_head + R"(function = "coil"
word_order = "middle"
max_read = 126
ratios = "both"
[[value]]
name = "frequency"
address = 1
ratio = "kv"
function = "discrete"
)");
    expect_error(e, "function", 2, 12, "holding | input");
    expect_error(e, "word_order", 3, 14, "high_first | low_first");
    expect_error(e, "max_read", 4, 12, "1..125");
    expect_error(e, "ratios", 5, 10, "secondary | primary");
    expect_error(e, "value[0].ratio", 9, 9, "none | pt | ct | ptct");
    expect_error(e, "value[0].function", 10, 12, "holding | input");
}

BOOST_AUTO_TEST_CASE(bit_only_with_bits) {
    temp_dir t;
    const auto e = profile_errors(t, "p", value_head + R"([[value]]
name = "di_1"
address = 1
type = "u16"
bit = 3
[[value]]
name = "di_2"
address = 2
type = "bits"
bit = 16
)");
    expect_error(e, "value[0].bit", 6, 7, "only allowed with type = \"bits\"");
    expect_error(e, "value[1].bit", 11, 7, "0..15");
}

BOOST_AUTO_TEST_CASE(min_max_only_with_writable_and_ordered) {
    temp_dir t;
    const auto e = profile_errors(t, "p", value_head + R"([[value]]
name = "do_1"
address = 1
max = 1
[[value]]
name = "do_2"
address = 2
writable = true
min = 5
max = 1
)");
    expect_error(e, "value[0].max", 5, 7, "only allowed with writable = true");
    expect_error(e, "value[1].min", 10, 7, "min <= max");
}

BOOST_AUTO_TEST_CASE(duplicate_value_names) {
    temp_dir t;
    const auto e = profile_errors(t, "p", value_head + R"([[value]]
name = "frequency"
address = 1
[[value]]
name = "frequency"
address = 2
)");
    expect_error(e, "value[1].name", 6, 8, "already defined by value[0]");
}

BOOST_AUTO_TEST_CASE(overlapping_registers) {
    temp_dir t;
    const auto e = profile_errors(t, "p", value_head + R"([[value]]
name = "energy_import_total"
address = 0x20
type = "u32"
[[value]]
name = "frequency"
address = 0x21
[[value]]
name = "di_1"
address = 0x30
type = "bits"
bit = 0
[[value]]
name = "di_2"
address = 0x30
type = "bits"
bit = 1
[[value]]
name = "di_3"
address = 0x30
type = "bits"
bit = 1
[[value]]
name = "voltage_l1"
address = 0x20
function = "input"
)");
    // 0x21 overlaps the u32 at 0x20; two bits values share 0x30 on different bits (fine); the
    // same bit twice is not; the input register 0x20 is another address space (fine).
    expect_error(e, "value[1].address", 8, 11, "overlaps registers 0x20..0x21 of value[0]");
    expect_error(e, "value[4].address", 21, 11, "bit 1 of register 48 is already read by value[3]");
    BOOST_TEST(e.size() == 2U);
}

BOOST_AUTO_TEST_CASE(value_larger_than_max_read_and_past_the_end) {
    temp_dir t;
    const auto e = profile_errors(t, "p", value_head + R"(max_read = 2
[[value]]
name = "energy_import_total"
address = 0
type = "u64"
[[value]]
name = "frequency"
address = 65535
type = "f32"
)");
    expect_error(e, "value[0].type", 6, 8, "can never be read");
    expect_error(e, "value[1].address", 9, 11, "run past 65535");
}

BOOST_AUTO_TEST_CASE(needs_values) {
    temp_dir t;
    const auto e = profile_errors(t, "p", value_head);
    expect_error(e, "value", 1, 1, "at least one [[value]]");
}

BOOST_AUTO_TEST_CASE(ratio_in_a_primary_profile) {
    temp_dir t;
    const auto e = profile_errors(t, "p", value_head + R"(ratios = "primary"
[[value]]
name = "current_l1"
address = 0
ratio = "ct"
)");
    expect_error(e, "value[0].ratio", 6, 9, "ratios = \"primary\" profile");
    BOOST_TEST(e.size() == 1U);
}

BOOST_AUTO_TEST_CASE(ratio_that_does_not_scale_the_quantity) {
    temp_dir t;
    const auto e = profile_errors(t, "p", value_head + R"(ratios = "secondary"
[[value]]
name = "voltage_l1"
address = 0
ratio = "ct"
[[value]]
name = "frequency"
address = 1
ratio = "pt"
[[value]]
name = "energy_import_total"
address = 2
type = "u32"
ratio = "ptct"
)");
    expect_error(e, "value[0].ratio", 6, 9, "it takes ratio = \"pt\"");
    expect_error(e, "value[1].ratio", 10, 9, "frequency (Hz) is not changed by PT/CT ratios");
    BOOST_TEST(e.size() == 2U); // energies take both ratios
}

BOOST_AUTO_TEST_CASE(bits_and_scales_only_on_states) {
    temp_dir t;
    const auto e = profile_errors(t, "p", value_head + R"([[value]]
name = "voltage_l1"
address = 0
type = "bits"
[[value]]
name = "di_1"
address = 1
scale = 0.1
[[value]]
name = "di_2"
address = 2
type = "bits"
bit = 3
)");
    expect_error(e, "value[0].type", 5, 8, "bits are for 0/1 states");
    expect_error(e, "value[1].scale", 9, 9, "a state is not scaled");
    BOOST_TEST(e.size() == 2U);
}

BOOST_AUTO_TEST_CASE(writable_input_register) {
    temp_dir t;
    const auto e = profile_errors(t, "p", value_head + R"(function = "input"
[[value]]
name = "do_1"
address = 0
writable = true
[[value]]
name = "do_2"
address = 1
function = "holding"
writable = true
)");
    expect_error(e, "value[0].writable", 6, 12, "input registers cannot be written");
    BOOST_TEST(e.size() == 1U); // a holding value in an input profile may be written
}

BOOST_AUTO_TEST_CASE(wraps_only_on_unsigned_energy_registers) {
    temp_dir t;
    const auto file = t.write("profiles/w.toml", R"(id = "w"
ratios = "secondary"
[[value]]
name = "energy_import_total"
address = 0
type = "u32"
scale = 0.01
wraps = true
)");
    const auto loaded = load_profile(file);
    const auto* p = std::get_if<rtu::profile>(&loaded);
    BOOST_REQUIRE(p != nullptr);
    BOOST_TEST(p->values.at(0).wraps);
    BOOST_TEST(rtu::wrap_range(p->values[0]) == 42949672.96); // 2^32 x 0.01 kWh

    const auto e = profile_errors(t, "p", value_head + R"(ratios = "secondary"
[[value]]
name = "voltage_l1"
address = 0
wraps = true
[[value]]
name = "energy_export_total"
address = 2
type = "f32"
wraps = true
[[value]]
name = "energy_import_total"
address = 4
type = "u32"
ratio = "ptct"
wraps = true
)");
    expect_error(e, "value[0].wraps", 6, 9, "only energy counters (energy_*) wrap");
    expect_error(e, "value[1].wraps", 11, 9, "only an unsigned integer register");
    expect_error(e, "value[2].wraps", 17, 9, "the register wraps before the ratio scales it");
    BOOST_TEST(e.size() == 3U);
}

BOOST_AUTO_TEST_SUITE_END()
