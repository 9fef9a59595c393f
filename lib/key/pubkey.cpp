// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "key/pubkey.hpp"

#include <algorithm>
#include <iterator>
#include <memory>
#include <optional>

#include <gnutls/abstract.h>
#include <gnutls/x509.h>
#include <p11tls/p11tls.h>

#include "base/error.hpp"
#include "pkcs11/attributes.hpp"
#include "pkcs11/search.hpp"
#include "world/token_state.hpp"

namespace p11tls {

namespace {

struct PubkeyDeleter {
    void operator()(gnutls_pubkey_st *k) const { gnutls_pubkey_deinit(k); }
};
using PubkeyPtr = std::unique_ptr<gnutls_pubkey_st, PubkeyDeleter>;

struct CrtDeleter {
    void operator()(gnutls_x509_crt_int *c) const { gnutls_x509_crt_deinit(c); }
};
using CrtPtr = std::unique_ptr<gnutls_x509_crt_int, CrtDeleter>;

PubkeyPtr new_pubkey() {
    gnutls_pubkey_t k;
    if (gnutls_pubkey_init(&k) < 0) fail(P11TLS_E_MEMORY, "gnutls_pubkey_init failed");
    return PubkeyPtr(k);
}

gnutls_datum_t datum(const std::vector<unsigned char> &v) {
    return {const_cast<unsigned char *>(v.data()), (unsigned)v.size()};
}

PublicKey finish(gnutls_pubkey_t k) {
    PublicKey pk;
    unsigned bits = 0;
    int a = gnutls_pubkey_get_pk_algorithm(k, &bits);
    switch (a) {
    case GNUTLS_PK_RSA: pk.alg = P11TLS_ALG_RSA; break;
    case GNUTLS_PK_ECDSA: pk.alg = P11TLS_ALG_ECDSA; break;
    case GNUTLS_PK_EDDSA_ED25519: pk.alg = P11TLS_ALG_ED25519; break;
    case GNUTLS_PK_EDDSA_ED448: pk.alg = P11TLS_ALG_ED448; break;
    default: fail(P11TLS_E_UNSUPPORTED, "unsupported public key algorithm");
    }
    pk.bits = (int)bits;
    if (pk.alg == P11TLS_ALG_ECDSA) {
        // GnuTLS reports no size for imported EC points; take it from the curve.
        gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
        if (gnutls_pubkey_export_ecc_raw2(k, &curve, nullptr, nullptr, 0) < 0)
            fail(P11TLS_E_UNSUPPORTED, "cannot read EC curve");
        switch (curve) {
        case GNUTLS_ECC_CURVE_SECP256R1: pk.bits = 256; break;
        case GNUTLS_ECC_CURVE_SECP384R1: pk.bits = 384; break;
        case GNUTLS_ECC_CURVE_SECP521R1: pk.bits = 521; break;
        default: pk.bits = (int)gnutls_ecc_curve_get_size(curve) * 8;
        }
    }
    gnutls_datum_t out = {nullptr, 0};
    if (gnutls_pubkey_export2(k, GNUTLS_X509_FMT_DER, &out) < 0)
        fail(P11TLS_E_INTERNAL, "cannot encode public key");
    pk.spki.assign(out.data, out.data + out.size);
    gnutls_free(out.data);
    return pk;
}

// CKA_EC_POINT is a DER OCTET STRING; some tokens store the raw point.
std::vector<unsigned char> unwrap_octet_string(const std::vector<unsigned char> &v) {
    if (v.size() >= 2 && v[0] == 0x04) {
        size_t len = v[1], hdr = 2;
        if (v[1] == 0x81 && v.size() >= 3) len = v[2], hdr = 3;
        else if (v[1] == 0x82 && v.size() >= 4) len = (v[2] << 8) | v[3], hdr = 4;
        if (hdr + len == v.size()) return std::vector<unsigned char>(v.begin() + hdr, v.end());
    }
    return v;
}

PublicKey ec_public_key(CK_KEY_TYPE kt, const std::vector<unsigned char> &params,
                        const std::vector<unsigned char> &point) {
    PubkeyPtr k = new_pubkey();
    if (kt == CKK_EC_EDWARDS) {
        int alg = edwards_curve(params);
        std::vector<unsigned char> raw = unwrap_octet_string(point);
        gnutls_datum_t x = datum(raw);
        gnutls_ecc_curve_t c = alg == P11TLS_ALG_ED25519 ? GNUTLS_ECC_CURVE_ED25519
                               : alg == P11TLS_ALG_ED448 ? GNUTLS_ECC_CURVE_ED448
                                                         : GNUTLS_ECC_CURVE_INVALID;
        if (c == GNUTLS_ECC_CURVE_INVALID || gnutls_pubkey_import_ecc_raw(k.get(), c, &x, nullptr) < 0)
            fail(P11TLS_E_UNSUPPORTED, "unsupported Edwards curve");
    } else {
        gnutls_datum_t p = datum(params), q = datum(point);
        if (gnutls_pubkey_import_ecc_x962(k.get(), &p, &q) < 0)
            fail(P11TLS_E_UNSUPPORTED, "unsupported EC key parameters");
    }
    return finish(k.get());
}

}  // namespace

int edwards_curve(const std::vector<unsigned char> &params) {
    // DER: the RFC 8410 OIDs, or PKCS#11 3.0's PrintableString curve names.
    static const unsigned char ed25519_oid[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
    static const unsigned char ed448_oid[] = {0x06, 0x03, 0x2b, 0x65, 0x71};
    static const unsigned char ed25519_name[] = "\x13\x0c" "edwards25519";
    static const unsigned char ed448_name[] = "\x13\x0a" "edwards448";
    auto is = [&](const unsigned char *v, size_t n) {
        return params.size() == n && std::equal(params.begin(), params.end(), v);
    };
    if (is(ed25519_oid, sizeof ed25519_oid) || is(ed25519_name, sizeof ed25519_name - 1))
        return P11TLS_ALG_ED25519;
    if (is(ed448_oid, sizeof ed448_oid) || is(ed448_name, sizeof ed448_name - 1)) return P11TLS_ALG_ED448;
    return 0;
}

PublicKey public_key_of_cert(const std::vector<unsigned char> &der) {
    gnutls_x509_crt_t raw;
    if (gnutls_x509_crt_init(&raw) < 0) fail(P11TLS_E_MEMORY, "gnutls_x509_crt_init failed");
    // Owned before anything else can throw (new_pubkey() may).
    CrtPtr crt(raw);
    gnutls_datum_t d = datum(der);
    PubkeyPtr k = new_pubkey();
    int rc = gnutls_x509_crt_import(crt.get(), &d, GNUTLS_X509_FMT_DER);
    if (rc >= 0) rc = gnutls_pubkey_import_x509(k.get(), crt.get(), 0);
    if (rc < 0) fail(P11TLS_E_UNSUPPORTED, "cannot read certificate public key");
    return finish(k.get());
}

std::optional<PublicKey> own_public_key(const Attributes &attrs) {
    CK_KEY_TYPE kt = 0;
    if (!attrs.scalar(CKA_KEY_TYPE, &kt))
        fail(P11TLS_E_DEVICE, "cannot read CKA_KEY_TYPE of key");
    if (kt == CKK_RSA) {
        const auto &n = attrs.get(CKA_MODULUS);
        const auto &e = attrs.get(CKA_PUBLIC_EXPONENT);
        if (!n.empty() && !e.empty()) {
            PubkeyPtr k = new_pubkey();
            gnutls_datum_t dn = datum(n), de = datum(e);
            if (gnutls_pubkey_import_rsa_raw(k.get(), &dn, &de) < 0)
                fail(P11TLS_E_UNSUPPORTED, "bad RSA public key");
            return finish(k.get());
        }
    } else if (kt != CKK_EC && kt != CKK_EC_EDWARDS) {
        fail(P11TLS_E_UNSUPPORTED, "unsupported key type");
    }
    const auto &info = attrs.get(CKA_PUBLIC_KEY_INFO);
    if (!info.empty()) {
        PubkeyPtr k = new_pubkey();
        gnutls_datum_t d = datum(info);
        if (gnutls_pubkey_import(k.get(), &d, GNUTLS_X509_FMT_DER) >= 0) return finish(k.get());
    }
    const auto &params = attrs.get(CKA_EC_PARAMS);
    const auto &point = attrs.get(CKA_EC_POINT);
    if (kt != CKK_RSA && !params.empty() && !point.empty()) return ec_public_key(kt, params, point);
    return std::nullopt;
}

PublicKey read_public_key(TokenState *t, CK_SESSION_HANDLE s, const Attributes &attrs,
                          const std::vector<Companion> &companions) {
    if (auto pk = find_public_key(t, s, attrs, companions)) return std::move(*pk);
    fail(P11TLS_E_UNSUPPORTED, attrs.get(CKA_ID).empty()
                                   ? "cannot determine the public key: the key has no CKA_ID"
                                   : "cannot determine the public key: no public key or certificate with the key's CKA_ID");
}

std::optional<PublicKey> find_public_key(TokenState *t, CK_SESSION_HANDLE s, const Attributes &attrs,
                                         const std::vector<Companion> &companions) {
    if (auto own = own_public_key(attrs)) return own;
    CK_KEY_TYPE kt = 0;
    attrs.scalar(CKA_KEY_TYPE, &kt);
    // The companion objects share the key's CKA_ID.
    const auto &id = attrs.get(CKA_ID);
    if (id.empty()) return std::nullopt;
    for (const Companion &c : companions) {
        CK_OBJECT_CLASS cls = 0;
        CK_KEY_TYPE ckt = 0;
        if (!c.attrs->scalar(CKA_CLASS, &cls) || c.attrs->get(CKA_ID) != id) continue;
        if (cls == CKO_PUBLIC_KEY && c.attrs->scalar(CKA_KEY_TYPE, &ckt) && ckt == kt)
            if (auto pk = own_public_key(*c.attrs)) return std::move(*pk);
    }
    for (const Companion &c : companions) {
        CK_OBJECT_CLASS cls = 0;
        if (!c.attrs->scalar(CKA_CLASS, &cls) || cls != CKO_CERTIFICATE || c.attrs->get(CKA_ID) != id)
            continue;
        auto der = get_attribute(t->module(), s, c.handle, CKA_VALUE);
        if (!der.empty()) return public_key_of_cert(der);
    }
    CK_OBJECT_CLASS pub = CKO_PUBLIC_KEY;
    std::vector<CK_ATTRIBUTE> tmpl = {{CKA_CLASS, &pub, sizeof pub},
                                      {CKA_KEY_TYPE, &kt, sizeof kt},
                                      {CKA_ID, (void *)id.data(), id.size()}};
    auto found = find_objects(t->module(), s, tmpl, 2);
    if (found.size() == 1) {
        Attributes pa(t->module(), s, found[0],
                      std::vector<CK_ATTRIBUTE_TYPE>(std::begin(kPublicKeyAttributes), std::end(kPublicKeyAttributes)));
        if (auto pk = own_public_key(pa)) return std::move(*pk);
    }
    CK_OBJECT_CLASS cert = CKO_CERTIFICATE;
    tmpl = {{CKA_CLASS, &cert, sizeof cert}, {CKA_ID, (void *)id.data(), id.size()}};
    found = find_objects(t->module(), s, tmpl, 2);
    if (found.size() == 1) {
        auto der = get_attribute(t->module(), s, found[0], CKA_VALUE);
        if (!der.empty()) return public_key_of_cert(der);
    }
    return std::nullopt;
}

std::optional<PublicKey> key_shape(const Attributes &attrs) {
    CK_KEY_TYPE kt = 0;
    if (!attrs.scalar(CKA_KEY_TYPE, &kt)) return std::nullopt;
    const auto &params = attrs.get(CKA_EC_PARAMS);
    PublicKey pk;
    if (kt == CKK_EC) {
        pk.alg = P11TLS_ALG_ECDSA;
        pk.bits = (int)ec_curve_bytes(params) * 8;
        if (pk.bits == 66 * 8) pk.bits = 521;
    } else if (kt == CKK_EC_EDWARDS) {
        pk.alg = edwards_curve(params);
        pk.bits = pk.alg == P11TLS_ALG_ED25519 ? 256 : 456;  // as GnuTLS reports them
    }
    if (!pk.alg || !pk.bits) return std::nullopt;
    return pk;
}

size_t ec_curve_bytes(const std::vector<unsigned char> &params) {
    static const unsigned char p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    static const unsigned char p384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
    static const unsigned char p521[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23};
    auto is = [&](const unsigned char *v, size_t n) {
        return params.size() == n && std::equal(params.begin(), params.end(), v);
    };
    return is(p256, sizeof p256) ? 32 : is(p384, sizeof p384) ? 48 : is(p521, sizeof p521) ? 66 : 0;
}

PublicKey ec_point_key(const std::vector<unsigned char> &params, const std::vector<unsigned char> &point) {
    return ec_public_key(CKK_EC, params, point);
}

}  // namespace p11tls
