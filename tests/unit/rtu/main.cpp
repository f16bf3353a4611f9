// The one translation unit that defines the unit_rtu test module.
#define BOOST_TEST_MODULE rtu
#include <boost/test/unit_test.hpp>
