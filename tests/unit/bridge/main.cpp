#define BOOST_TEST_MODULE unit_bridge
#include <boost/test/unit_test.hpp>
