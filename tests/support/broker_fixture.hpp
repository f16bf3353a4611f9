#pragma once
// The broker of the component tests on a real uv loop: mbtest::broker (broker_process.hpp, the
// one the benches use too) and the loop helpers the tests run beside it.
#include "tests/support/broker_process.hpp"
#include "tests/support/loop_test.hpp"
