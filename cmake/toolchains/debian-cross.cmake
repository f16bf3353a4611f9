# Shared by cmake/toolchains/<arch>.cmake, which set mb_triplet, mb_qemu and mb_deb_arch first: a cross
# build for a Debian architecture with Debian's cross compiler (crossbuild-essential-<arch>)
# and Debian's own libraries of that architecture installed through multiarch
# (scripts/install-deps-arch). Nothing is copied into a sysroot: the libraries are in
# /usr/lib/<triplet>, where CMake looks first once CMAKE_LIBRARY_ARCHITECTURE names it.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER ${mb_triplet}-gcc)
set(CMAKE_CXX_COMPILER ${mb_triplet}-g++)
set(CMAKE_LIBRARY_ARCHITECTURE ${mb_triplet})

# pkg-config: only ARCH's .pc files (and the architecture-free ones), never the host's.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${mb_triplet}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# Programs (clang-tidy, python3) are the host's; libraries and headers ARCH's: /usr as the one
# root, where the multiarch paths above keep the host's libraries out.
set(CMAKE_FIND_ROOT_PATH /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)

# CTest runs what it built through qemu-user: Debian's libc6:<arch> (pulled in by the
# libraries) puts ARCH's dynamic loader at /lib/ld-linux-*.so, so qemu needs no -L prefix,
# and the binary finds ARCH's libraries through the host's ld.so.cache as on the box itself.
set(CMAKE_CROSSCOMPILING_EMULATOR ${mb_qemu})

# The package is for ARCH (CPack would ask dpkg, which answers the host's).
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${mb_deb_arch})
