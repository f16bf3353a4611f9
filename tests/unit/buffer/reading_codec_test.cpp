#include "buffer/reading_codec.hpp"
#include "buffer/sqlite_handle.hpp"

#include <boost/test/unit_test.hpp>
#include <stdexcept>
#include <string>

using mb::buffer::reading_codec;
using mb::model::measurement_of;
using mb::model::reading_value;

namespace {

// A codec that learned the names as a file numbers them (1, 2, 3 in the order given).
reading_codec with(std::initializer_list<const char*> names) {
    reading_codec c;
    std::int64_t n = 0;
    for (const char* name : names)
        c.learn(++n, name);
    return c;
}

bool corrupt(const mb::buffer::sqlite_error& e) {
    return e.code() == SQLITE_CORRUPT;
}

} // namespace

BOOST_AUTO_TEST_SUITE(reading_codec_rows)

BOOST_AUTO_TEST_CASE(values_come_back_as_they_went_in_order_and_all) {
    const auto c = with({"voltage_l1", "energy_import_total", "harmonic_current_l3_h31"});
    const std::vector<reading_value> values{
        {"harmonic_current_l3_h31", 2.5}, {"voltage_l1", 231.25}, {"energy_import_total", -0.0}};
    const auto body = c.encode(values);
    // count, then per value a one-byte number and 8 bytes
    BOOST_TEST(body.size() == 1U + 3U * 9U);
    const auto back = c.decode(body);
    BOOST_TEST(back.unknown == 0U);
    BOOST_TEST((back.values == values));
    BOOST_TEST(c.decode(c.encode({})).values.empty());
}

BOOST_AUTO_TEST_CASE(a_measurement_has_the_number_the_file_gave_its_name) {
    const auto c = with({"frequency", "voltage_l2"});
    BOOST_TEST(c.number_of(*measurement_of("voltage_l2")).value() == 2);
    BOOST_TEST(!c.number_of(*measurement_of("voltage_l3")).has_value());
    BOOST_CHECK_THROW((void)c.encode({{"voltage_l3", 1}}), std::out_of_range);
}

BOOST_AUTO_TEST_CASE(a_name_of_a_newer_vocabulary_is_left_out_and_counted) {
    auto writer = with({"voltage_l1", "frequency"});
    const auto body = writer.encode({{"voltage_l1", 230}, {"frequency", 50}});
    // The same file read by a version whose vocabulary has no "frequency" (here: a name this
    // one lacks, under the same number).
    reading_codec reader;
    reader.learn(1, "voltage_l1");
    reader.learn(2, "frequency_of_the_future");
    const auto back = reader.decode(body);
    BOOST_TEST(back.unknown == 1U);
    BOOST_REQUIRE(back.values.size() == 1U);
    BOOST_TEST(back.values[0].name() == "voltage_l1");
}

BOOST_AUTO_TEST_CASE(a_damaged_body_is_corrupt_never_a_wrong_value) {
    const auto c = with({"voltage_l1"});
    const auto body = c.encode({{"voltage_l1", 230}});
    BOOST_CHECK_EXCEPTION((void)c.decode(body.substr(0, body.size() - 1)), mb::buffer::sqlite_error,
                          corrupt);
    BOOST_CHECK_EXCEPTION((void)c.decode(""), mb::buffer::sqlite_error, corrupt);
    BOOST_CHECK_EXCEPTION((void)c.decode(std::string("\x01\x80", 2)), mb::buffer::sqlite_error,
                          corrupt); // a varint cut short
    auto unknown_number = body;
    unknown_number[1] = 7; // a number the file never gave
    BOOST_CHECK_EXCEPTION((void)c.decode(unknown_number), mb::buffer::sqlite_error, corrupt);
}

BOOST_AUTO_TEST_SUITE_END()
