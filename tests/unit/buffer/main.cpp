#define BOOST_TEST_MODULE unit_buffer
#include <boost/test/unit_test.hpp>
