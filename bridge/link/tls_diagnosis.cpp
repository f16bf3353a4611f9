#include "bridge/link/tls_diagnosis.hpp"

#include <fmt/format.h>
#include <memory>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <string_view>

namespace mb::bridge {
namespace {

using bio_ptr = std::unique_ptr<BIO, decltype(&BIO_free)>;
using x509_ptr = std::unique_ptr<X509, decltype(&X509_free)>;

std::string name_text(const X509_NAME* name) {
    bio_ptr out(BIO_new(BIO_s_mem()), &BIO_free);
    if (!out || X509_NAME_print_ex(out.get(), name, 0, XN_FLAG_RFC2253) < 0) return "?";
    char* data = nullptr;
    const long len = BIO_get_mem_data(out.get(), &data);
    return len > 0 ? std::string(data, static_cast<std::size_t>(len)) : std::string();
}

std::string time_text(const ASN1_TIME* t) {
    std::tm tm{};
    if (ASN1_TIME_to_tm(t, &tm) != 1) return "?";
    return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC", tm.tm_year + 1900, tm.tm_mon + 1,
                       tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

// "expired on DATE" / "is not valid before DATE", or empty while `cert` is valid at `now`.
std::string validity_problem(const X509* cert, std::time_t now) {
    const ASN1_TIME* not_after = X509_get0_notAfter(cert);
    const ASN1_TIME* not_before = X509_get0_notBefore(cert);
    if (X509_cmp_time(not_after, &now) < 0) return "expired on " + time_text(not_after);
    if (X509_cmp_time(not_before, &now) > 0) return "is not valid before " + time_text(not_before);
    return {};
}

bool is_date_error(long verify) {
    return verify == X509_V_ERR_CERT_HAS_EXPIRED || verify == X509_V_ERR_CERT_NOT_YET_VALID;
}

// The first certificate out of date among those the broker sent (its own first, then the
// chain it sends along, often up to the CA). A CA out of date that ca_file holds too is named
// there: verification prefers the trusted copy, so that is the one that failed.
std::string peer_chain_problem(const SSL* ssl, const tls_files& files, std::time_t now,
                               std::string& top_issuer) {
    const STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
    const int n = chain != nullptr ? sk_X509_num(chain) : 0;
    for (int i = 0; i < n; ++i) {
        const X509* c = sk_X509_value(chain, i);
        const std::string subject = name_text(X509_get_subject_name(c));
        top_issuer = name_text(X509_get_issuer_name(c));
        auto p = validity_problem(c, now);
        if (p.empty()) continue;
        if (i == 0) return fmt::format("the broker's certificate ({}) {}", subject, p);
        if (auto ours = certificate_file_problem(files.ca_file, now, subject); !ours.empty())
            return "the CA certificate in " + ours;
        return fmt::format("a certificate in the broker's chain ({}) {}", subject, p);
    }
    return {};
}

// Our side of a failed verification of the broker.
std::string verify_problem(const SSL* ssl, const tls_files& files, std::time_t now) {
    const long verify = SSL_get_verify_result(ssl);
    // libmosquitto's own host name check fails without a reason of OpenSSL's (it logs its own).
    if (verify == X509_V_OK || verify == X509_V_ERR_UNSPECIFIED ||
        verify == X509_V_ERR_APPLICATION_VERIFICATION)
        return {};
    if (is_date_error(verify)) {
        std::string issuer;
        if (auto p = peer_chain_problem(ssl, files, now, issuer); !p.empty()) return p;
        if (auto p = certificate_file_problem(files.ca_file, now, issuer); !p.empty())
            return "the CA certificate in " + p;
    }
    std::string text = X509_verify_cert_error_string(verify);
    if (verify == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
        verify == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
        verify == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN)
        text += fmt::format(": no CA in {} signed the broker's certificate", files.ca_file);
    return text;
}

} // namespace

bool tls_handshake_done(void* ssl) noexcept {
    return ssl != nullptr && SSL_is_init_finished(static_cast<const SSL*>(ssl)) == 1;
}

std::string certificate_file_problem(const std::string& path, std::time_t now,
                                     const std::string& issuer) {
    bio_ptr in(BIO_new_file(path.c_str(), "r"), &BIO_free);
    std::string found;
    while (in && found.empty()) {
        x509_ptr cert(PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr), &X509_free);
        if (!cert) break;
        const std::string subject = name_text(X509_get_subject_name(cert.get()));
        if (!issuer.empty() && subject != issuer) continue;
        if (auto p = validity_problem(cert.get(), now); !p.empty())
            found = fmt::format("{} ({}) {}", path, subject, p);
    }
    ERR_clear_error(); // the end of the file reads as an error; the handshake's are gone already
    return found;
}

std::string explain_tls_failure(void* ssl, const std::string& lib_error, const tls_files& files,
                                std::time_t now) {
    std::string why;
    if (ssl != nullptr && lib_error.find("certificate verify failed") != std::string::npos)
        why = verify_problem(static_cast<const SSL*>(ssl), files, now);
    // The broker refused ours (an alert: certificate expired, bad certificate, …): a client
    // certificate out of date is the likely reason, whatever alert it chose.
    if (why.empty() && files.cert_file && lib_error.find("alert") != std::string::npos)
        if (auto p = certificate_file_problem(*files.cert_file, now); !p.empty())
            why = "the client certificate " + p;
    return why;
}

} // namespace mb::bridge
