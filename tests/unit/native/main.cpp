// The one translation unit that defines the unit_native test module.
#define BOOST_TEST_MODULE native
#include <boost/test/unit_test.hpp>
