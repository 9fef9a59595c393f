// SPDX-License-Identifier: BSD-3-Clause
// Copyright The p11tls authors
#include "key/ec_learn.hpp"

#include <gmp.h>
#include <nettle/ecc-curve.h>
#include <nettle/ecc.h>

namespace p11tls {

namespace {

// The NIST curves' prime p, coefficient b (a = -3) and group order n
// (FIPS 186-4, D.1.2), hex.
struct Curve {
    size_t bytes;
    const struct ecc_curve *(*nettle)();
    const char *p, *b, *n;
};

const Curve kCurves[] = {
    {32, nettle_get_secp_256r1,
     "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff",
     "5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b",
     "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"},
    {48, nettle_get_secp_384r1,
     "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff",
     "b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef",
     "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973"},
    {66, nettle_get_secp_521r1,
     "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
     "0051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00",
     "01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409"},
};

// mpz_t with RAII.
struct Z {
    mpz_t v;
    Z() { mpz_init(v); }
    explicit Z(const char *hex) { mpz_init_set_str(v, hex, 16); }
    ~Z() { mpz_clear(v); }
    Z(const Z &) = delete;
    Z &operator=(const Z &) = delete;
};

struct Point {
    struct ecc_point v;
    explicit Point(const struct ecc_curve *c) { ecc_point_init(&v, c); }
    ~Point() { ecc_point_clear(&v); }
    Point(const Point &) = delete;
    Point &operator=(const Point &) = delete;
};

struct Scalar {
    struct ecc_scalar v;
    explicit Scalar(const struct ecc_curve *c) { ecc_scalar_init(&v, c); }
    ~Scalar() { ecc_scalar_clear(&v); }
    Scalar(const Scalar &) = delete;
    Scalar &operator=(const Scalar &) = delete;
};

void import(Z &z, const unsigned char *p, size_t n) { mpz_import(z.v, n, 1, 1, 1, 0, p); }

// x as `bytes` big-endian bytes appended to out.
void append(std::vector<unsigned char> &out, const Z &x, size_t bytes) {
    std::vector<unsigned char> b((mpz_sizeinbase(x.v, 2) + 7) / 8);
    size_t n = 0;
    mpz_export(b.data(), &n, 1, 1, 1, 0, x.v);
    out.insert(out.end(), bytes - n, 0);
    out.insert(out.end(), b.begin(), b.begin() + n);
}

// The key at (x, y) as CKA_EC_POINT would hold it: DER OCTET STRING of
// the uncompressed point.
PublicKey key_at(const std::vector<unsigned char> &params, const Z &x, const Z &y, size_t bytes) {
    std::vector<unsigned char> point = {0x04};
    append(point, x, bytes);
    append(point, y, bytes);
    std::vector<unsigned char> der = {0x04};
    if (point.size() >= 128) der.push_back(0x81);
    der.push_back((unsigned char)point.size());
    der.insert(der.end(), point.begin(), point.end());
    return ec_point_key(params, der);
}

}  // namespace

std::vector<PublicKey> zero_digest_signers(const std::vector<unsigned char> &params,
                                           const std::vector<unsigned char> &rs) {
    const size_t bytes = ec_curve_bytes(params);
    const Curve *c = nullptr;
    for (const Curve &k : kCurves)
        if (k.bytes == bytes) c = &k;
    if (!c || rs.size() != 2 * bytes) return {};
    const struct ecc_curve *ecc = c->nettle();
    Z p(c->p), b(c->b), n(c->n), r, s, u, rhs, y, e;
    import(r, rs.data(), bytes);
    import(s, rs.data() + bytes, bytes);
    if (mpz_sgn(r.v) == 0 || mpz_sgn(s.v) == 0 || mpz_cmp(r.v, n.v) >= 0 || mpz_cmp(s.v, n.v) >= 0) return {};
    // u = s / r mod n
    if (!mpz_invert(u.v, r.v, n.v)) return {};
    mpz_mul(u.v, u.v, s.v);
    mpz_mod(u.v, u.v, n.v);
    // R: x = r (r + n is as likely as a hash collision), y^2 = x^3 - 3x + b;
    // p = 3 mod 4 on these curves, so y = rhs^((p+1)/4).
    mpz_powm_ui(rhs.v, r.v, 3, p.v);
    mpz_submul_ui(rhs.v, r.v, 3);
    mpz_add(rhs.v, rhs.v, b.v);
    mpz_mod(rhs.v, rhs.v, p.v);
    mpz_add_ui(e.v, p.v, 1);
    mpz_fdiv_q_2exp(e.v, e.v, 2);
    mpz_powm(y.v, rhs.v, e.v, p.v);
    Point R(ecc), Q(ecc);
    Scalar k(ecc);
    if (!ecc_point_set(&R.v, r.v, y.v) || !ecc_scalar_set(&k.v, u.v)) return {};
    ecc_point_mul(&Q.v, &k.v, &R.v);
    Z qx, qy, negy;
    ecc_point_get(&Q.v, qx.v, qy.v);
    mpz_sub(negy.v, p.v, qy.v);  // -Q = (x, p - y)
    return {key_at(params, qx, qy, bytes), key_at(params, qx, negy, bytes)};
}

}  // namespace p11tls
