#include "key/ecdsa.hpp"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "base/error.hpp"

namespace p11tls {

std::vector<unsigned char> ecdsa_to_der(const std::vector<unsigned char> &rs) {
    if (rs.empty() || rs.size() % 2) fail(P11TLS_E_DEVICE, "malformed ECDSA signature from token");
    size_t half = rs.size() / 2;
    gnutls_datum_t r = {const_cast<unsigned char *>(rs.data()), (unsigned)half};
    gnutls_datum_t sv = {const_cast<unsigned char *>(rs.data() + half), (unsigned)half};
    gnutls_datum_t der = {nullptr, 0};
    if (gnutls_encode_rs_value(&der, &r, &sv) < 0) fail(P11TLS_E_INTERNAL, "cannot encode ECDSA signature");
    std::vector<unsigned char> out(der.data, der.data + der.size);
    gnutls_free(der.data);
    return out;
}

}  // namespace p11tls
