# 64-bit ARM (Cortex-A53/A72 gateway boxes): scripts/package arm64, scripts/test --arch arm64.
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(mb_triplet aarch64-linux-gnu)
set(mb_qemu /usr/bin/qemu-aarch64-static)
set(mb_deb_arch arm64)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
