#pragma once
// The daemon's log writer: stderr, where under systemd (JOURNAL_STREAM set) each line starts
// with a "<N>" priority that journald parses, and otherwise with a UTC timestamp.
namespace mb::daemon {

// Installs the writer as the sink of common/log.hpp. Call once at start.
void install_journal_sink();

} // namespace mb::daemon
