# Included by tests/integration/CMakeLists.txt in a cross build (cmake/toolchains/<arch>.cmake):
# the daemon is an ARM binary, run under qemu-user (CMAKE_CROSSCOMPILING_EMULATOR) against the
# host's mosquitto, socat ptys and pymodbus simulators. MB_BIN is a wrapper that execs qemu with
# the binary (exec: the pid the tests signal, kill -9 and read /proc of is the daemon's).
#
# Not every module runs: emulation costs minutes per module, so the set below covers each
# capability once (scripts/test --arch ARCH). What is relaxed under emulation is said beside it.
set(mb_qemu_wrapper ${CMAKE_CURRENT_BINARY_DIR}/meterbridge-qemu)
file(GENERATE OUTPUT ${mb_qemu_wrapper}
  CONTENT "#!/bin/sh\nexec ${CMAKE_CROSSCOMPILING_EMULATOR} $<TARGET_FILE:meterbridge> \"$@\"\n"
  FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
  WORLD_READ WORLD_EXECUTE)

set(mb_arm_modules
  test_rtu_values      # an RTU bus on a pty: exact values of a simulated ADW300
  test_uplink_tls      # the uplink over TLS (mqtts://, client certificate, diagnosis)
  test_buffer_outage   # the store-and-forward buffer across a broker outage
  test_buffer_kill     # ... and across kill -9: seq never repeats, a restart gap
  test_native_relay    # a native meter relayed through the same pipeline
  test_package         # the .deb CPack makes in this tree says Architecture: <arch>
)
foreach(stem IN LISTS mb_arm_modules)
  add_test(NAME integration.${stem}
    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/run_module.py ${stem}
    WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
  set_tests_properties(integration.${stem} PROPERTIES LABELS "integration;arm" TIMEOUT 600
    ENVIRONMENT "MB_BIN=${mb_qemu_wrapper};MB_SOURCE_DIR=${PROJECT_SOURCE_DIR};MB_BUILD_DIR=${PROJECT_BINARY_DIR};MB_DEB_ARCH=${CPACK_DEBIAN_PACKAGE_ARCHITECTURE};PYTHONDONTWRITEBYTECODE=1")
endforeach()
