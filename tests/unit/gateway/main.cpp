#define BOOST_TEST_MODULE unit_gateway
#include <boost/test/unit_test.hpp>
