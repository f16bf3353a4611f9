# Installed in their Debian places; filled in by the foundation issue.
install(TARGETS meterbridge RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
