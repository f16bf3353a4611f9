// tls_diagnosis: certificates out of date are named with their file, subject and date. The
// handshake side (the broker's certificate, read from libmosquitto's SSL object) is tested
// against a real mosquitto in tests/integration/test_uplink_tls.py.
#include "bridge/link/tls_diagnosis.hpp"
#include "tests/support/temp_dir.hpp"

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <string>
#include <vector>

using mb::bridge::certificate_file_problem;
using mb::bridge::explain_tls_failure;
using mb::bridge::tls_files;

namespace {

constexpr std::time_t jan_1_2020 = 1577836800;
constexpr std::time_t day = 86400;

struct cert_spec {
    std::string cn;
    std::time_t not_before;
    std::time_t not_after;
};

// Self-signed certificates written to one PEM file, in order.
std::string write_certs(const std::filesystem::path& file, const std::vector<cert_spec>& specs) {
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), &EVP_PKEY_free);
    BOOST_REQUIRE(key);
    std::unique_ptr<BIO, decltype(&BIO_free)> out(BIO_new_file(file.c_str(), "w"), &BIO_free);
    BOOST_REQUIRE(out);
    long serial = 1;
    for (const auto& s : specs) {
        std::unique_ptr<X509, decltype(&X509_free)> x(X509_new(), &X509_free);
        X509_set_version(x.get(), 2);
        ASN1_INTEGER_set(X509_get_serialNumber(x.get()), serial++);
        ASN1_TIME_set(X509_getm_notBefore(x.get()), s.not_before);
        ASN1_TIME_set(X509_getm_notAfter(x.get()), s.not_after);
        X509_NAME* name = X509_get_subject_name(x.get());
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(s.cn.c_str()), -1, -1, 0);
        X509_set_issuer_name(x.get(), name);
        X509_set_pubkey(x.get(), key.get());
        BOOST_REQUIRE(X509_sign(x.get(), key.get(), EVP_sha256()) > 0);
        BOOST_REQUIRE(PEM_write_bio_X509(out.get(), x.get()) == 1);
    }
    return file.string();
}

} // namespace

BOOST_AUTO_TEST_SUITE(tls_diagnosis)

BOOST_AUTO_TEST_CASE(an_expired_certificate_is_named_with_its_date) {
    const mbtest::temp_dir d("mb-tls");
    const auto f = write_certs(d.path / "client.crt", {{"gw1", jan_1_2020, jan_1_2020 + day}});
    BOOST_TEST(certificate_file_problem(f, jan_1_2020 + 2 * day) ==
               f + " (CN=gw1) expired on 2020-01-02 00:00:00 UTC");
    BOOST_TEST(certificate_file_problem(f, jan_1_2020 + day / 2).empty()); // valid then
}

BOOST_AUTO_TEST_CASE(a_certificate_not_yet_valid_is_named_with_its_date) {
    const mbtest::temp_dir d("mb-tls");
    const auto f = write_certs(d.path / "client.crt", {{"gw1", jan_1_2020, jan_1_2020 + day}});
    BOOST_TEST(certificate_file_problem(f, jan_1_2020 - day) ==
               f + " (CN=gw1) is not valid before 2020-01-01 00:00:00 UTC");
}

BOOST_AUTO_TEST_CASE(in_a_bundle_the_issuer_asked_for_is_the_one_looked_at) {
    const mbtest::temp_dir d("mb-tls");
    const auto f =
        write_certs(d.path / "bundle.crt", {{"old CA", jan_1_2020, jan_1_2020 + day},
                                            {"test CA", jan_1_2020, jan_1_2020 + 9 * day},
                                            {"new CA", jan_1_2020, jan_1_2020 + 3 * day}});
    const std::time_t now = jan_1_2020 + 5 * day;
    BOOST_TEST(certificate_file_problem(f, now) ==
               f + " (CN=old CA) expired on 2020-01-02 00:00:00 UTC");
    BOOST_TEST(certificate_file_problem(f, now, "CN=test CA").empty());
    BOOST_TEST(certificate_file_problem(f, now, "CN=new CA") ==
               f + " (CN=new CA) expired on 2020-01-04 00:00:00 UTC");
}

BOOST_AUTO_TEST_CASE(an_unreadable_file_adds_nothing) {
    // libmosquitto reports a CA or certificate file it cannot load by itself.
    BOOST_TEST(certificate_file_problem("/nonexistent/ca.crt", jan_1_2020).empty());
    const mbtest::temp_dir d("mb-tls");
    const auto junk = d.path / "junk.crt";
    std::ofstream(junk) << "not a certificate\n";
    BOOST_TEST(certificate_file_problem(junk.string(), jan_1_2020).empty());
}

BOOST_AUTO_TEST_CASE(the_broker_refusing_an_expired_client_certificate_names_the_file) {
    // The broker's alert comes through as OpenSSL's error text; whatever alert it chose, an
    // out-of-date client certificate is the reason to name.
    const mbtest::temp_dir d("mb-tls");
    const auto crt = write_certs(d.path / "client.crt", {{"gw1", jan_1_2020, jan_1_2020 + day}});
    const tls_files files{"/etc/ssl/certs/ca-certificates.crt", crt};
    const std::string alert =
        "OpenSSL Error[0]: error:0A000415:SSL routines::sslv3 alert certificate expired";
    BOOST_TEST(explain_tls_failure(nullptr, alert, files, jan_1_2020 + 2 * day) ==
               "the client certificate " + crt + " (CN=gw1) expired on 2020-01-02 00:00:00 UTC");
    // Valid, or not an alert: nothing to add.
    BOOST_TEST(explain_tls_failure(nullptr, alert, files, jan_1_2020 + day / 2).empty());
    BOOST_TEST(explain_tls_failure(nullptr, "OpenSSL Error[0]: unexpected eof", files,
                                   jan_1_2020 + 2 * day)
                   .empty());
    BOOST_TEST(
        explain_tls_failure(nullptr, alert, tls_files{"/x", std::nullopt}, jan_1_2020 + 2 * day)
            .empty());
}

BOOST_AUTO_TEST_SUITE_END()
