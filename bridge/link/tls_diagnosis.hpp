#pragma once
// What a failed TLS handshake means, in words a user can act on. libmosquitto passes on only
// OpenSSL's error text ("certificate verify failed", "sslv3 alert certificate expired"); the
// verification result and the broker's certificates are still on its SSL object
// (mosquitto_ssl_get) when it logs that text, and our own certificates are in their files.
#include <ctime>
#include <optional>
#include <string>

namespace mb::bridge {

// The files a TLS link trusts and presents.
struct tls_files {
    std::string ca_file;                  // the CA bundle in use (configured or the system's)
    std::optional<std::string> cert_file; // the client certificate, if any
};

// True when the handshake on `ssl` (an SSL*, as mosquitto_ssl_get returns it; may be null)
// is complete.
[[nodiscard]] bool tls_handshake_done(void* ssl) noexcept;

// Why the handshake on `ssl` failed, beyond OpenSSL's error text `lib_error`: an expired or not
// yet valid certificate, named (the broker's, a CA in ca_file, or cert_file) with its date, or
// the reason the broker's certificate was not trusted. Empty when there is nothing to add.
[[nodiscard]] std::string explain_tls_failure(void* ssl, const std::string& lib_error,
                                              const tls_files& files, std::time_t now);

// Whether the certificates in a PEM file are valid at `now`: for the first one that is not,
// "FILE (SUBJECT) expired on DATE" or "… is not valid before DATE"; empty when all are (or the
// file cannot be read: libmosquitto reports that itself). `issuer`: only certificates with this
// subject (an RFC 2253 name, as "CN=test CA") are looked at; empty: all of them.
[[nodiscard]] std::string certificate_file_problem(const std::string& path, std::time_t now,
                                                   const std::string& issuer = {});

} // namespace mb::bridge
