# 32-bit ARM, hard float (Cortex-A7/A8 gateway boxes): scripts/package armhf,
# scripts/test --arch armhf. Debian's armhf is ARMv7-A + VFPv3-D16 + Thumb-2, the compiler's
# default: no -march here, so the package runs on every box Debian's armhf runs on.
set(CMAKE_SYSTEM_PROCESSOR armv7l)
set(mb_triplet arm-linux-gnueabihf)
set(mb_qemu /usr/bin/qemu-arm-static)
set(mb_deb_arch armhf)
# GCC's ARM ABI notes ("parameter passing for argument of type ... changed in GCC 7.1") are
# about linking with code built by GCC 6 or older: none here, and they bury real warnings.
string(APPEND CMAKE_CXX_FLAGS_INIT " -Wno-psabi")
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
