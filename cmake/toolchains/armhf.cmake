# 32-bit ARM, hard float (Cortex-A7/A8 gateway boxes): scripts/package armhf,
# scripts/test --arch armhf. Debian's armhf is ARMv7-A + VFPv3-D16 + Thumb-2, the compiler's
# default: no -march here, so the package runs on every box Debian's armhf runs on.
set(CMAKE_SYSTEM_PROCESSOR armv7l)
set(mb_triplet arm-linux-gnueabihf)
set(mb_qemu /usr/bin/qemu-arm-static)
set(mb_deb_arch armhf)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
