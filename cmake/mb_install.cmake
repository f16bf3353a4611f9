# Installed in their Debian places (docs/architecture.md#layers), and the .deb that carries them:
#   cmake --build <dir> && (cd <dir> && cpack -G DEB)  ->  meterbridge_0.1.0_amd64.deb
# The binary and profiles follow the install prefix (/usr in the package); the systemd
# snippets and the conffile go where systemd and dpkg look for them, whatever the prefix.
install(TARGETS meterbridge RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

install(FILES ${PROJECT_SOURCE_DIR}/systemd/meterbridge.service
  DESTINATION /lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/systemd/meterbridge.sysusers
  DESTINATION /usr/lib/sysusers.d RENAME meterbridge.conf)
install(FILES ${PROJECT_SOURCE_DIR}/systemd/meterbridge.tmpfiles
  DESTINATION /usr/lib/tmpfiles.d RENAME meterbridge.conf)

file(GLOB mb_shipped_profiles CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/etc/profiles/*.toml)
install(FILES ${mb_shipped_profiles}
  DESTINATION ${CMAKE_INSTALL_DATADIR}/meterbridge/profiles)

# The annotated example becomes the live config: a conffile, so upgrades keep local edits.
install(FILES ${PROJECT_SOURCE_DIR}/etc/meterbridge.toml DESTINATION /etc/meterbridge)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})

# --- CPack: one Debian package -------------------------------------------------------------
set(CPACK_PACKAGE_NAME meterbridge)
set(CPACK_PACKAGE_VENDOR "meterbridge")
set(CPACK_PACKAGE_CONTACT "meterbridge maintainers <meterbridge@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "edge gateway: Modbus-RTU and native MQTT energy meters to a cloud MQTT broker")
set(CPACK_PACKAGE_DESCRIPTION "Polls RS485 Modbus-RTU energy meters, relays native MQTT meters,
normalizes readings into one topic scheme and uplinks them to an MQTT broker, with a SQLite
store-and-forward buffer for outages. Runs as the systemd service meterbridge.service.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_GENERATOR DEB)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # meterbridge_0.1.0_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Stripped, as Debian ships binaries: a gateway's flash is small (README, the footprint table).
set(CPACK_STRIP_FILES ON)
# systemd-sysusers and systemd-tmpfiles run from postinst.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "systemd")

# Maintainer scripts and conffiles.
set(mb_deb_dir ${PROJECT_BINARY_DIR}/deb)
file(WRITE ${mb_deb_dir}/conffiles "/etc/meterbridge/meterbridge.toml\n")
foreach(script postinst prerm postrm)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/deb/${script} ${mb_deb_dir}/${script} @ONLY
    FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
    WORLD_READ WORLD_EXECUTE)
endforeach()
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${mb_deb_dir}/postinst ${mb_deb_dir}/prerm ${mb_deb_dir}/postrm ${mb_deb_dir}/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
