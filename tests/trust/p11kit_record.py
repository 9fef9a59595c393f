#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
"""p11kit_record.py - p11-kit trust store records (.p11-kit files) for the
trust tests, written the way Fedora's and RHEL's stores carry them:

  p11kit_record.py distrust CERT.pem LABEL
      a blocklist record naming CERT by issuer and serial number only (no
      certificate value): p11-kit's trust module then shows a value-less
      certificate object with CKA_X_DISTRUSTED, a distrusting NSS trust
      object and distrust assertions.
  p11kit_record.py staple CERT.pem KIND LABEL
      an extension stapled to CERT's public key (CKO_X_CERTIFICATE_EXTENSION),
      KIND one of:
        eku-email    extended key usage: e-mail protection only
        eku-server   extended key usage: TLS server authentication only
        eku-client   extended key usage: TLS client authentication only
        ku-no-certsign  key usage: digital signature only (no keyCertSign)
        bc-not-ca    basic constraints: not a CA (critical)
        nc-example   name constraints: DNS names under example.com only

Prints the record on stdout. Plain Python, no modules beyond the standard
library: the certificate is taken apart by its DER."""
import base64
import re
import sys


def tlv(b, i):
    """(tag, start of content, end of content) of the TLV at i."""
    tag = b[i]
    length = b[i + 1]
    i += 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(b[i:i + n], "big")
        i += n
    return tag, i, i + length


def der(tag, content):
    n = len(content)
    if n < 0x80:
        head = bytes([tag, n])
    else:
        nb = n.to_bytes((n.bit_length() + 7) // 8, "big")
        head = bytes([tag, 0x80 | len(nb)]) + nb
    return head + content


def cert_fields(path):
    """The DER issuer, serial number (INTEGER) and SubjectPublicKeyInfo."""
    pem = open(path).read()
    m = re.search(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", pem, re.S)
    b = base64.b64decode("".join(m.group(1).split()))
    _, c, _ = tlv(b, 0)  # Certificate
    _, t, _ = tlv(b, c)  # tbsCertificate
    i = t
    tag, s, e = tlv(b, i)
    if tag == 0xA0:  # version
        i = e
        tag, s, e = tlv(b, i)
    serial = b[i:e]
    i = e
    _, _, i = tlv(b, i)  # signature algorithm
    tag, s, e = tlv(b, i)
    issuer = b[i:e]
    i = e
    _, _, i = tlv(b, i)  # validity
    _, _, i = tlv(b, i)  # subject
    _, _, e = tlv(b, i)
    spki = b[i:e]
    return issuer, serial, spki


def pct(data):
    return "".join("%%%02x" % c for c in data)


OIDS = {"2.5.29.37": bytes.fromhex("551d25"), "2.5.29.15": bytes.fromhex("551d0f"),
        "2.5.29.19": bytes.fromhex("551d13"), "2.5.29.30": bytes.fromhex("551d1e")}


def extension(kind):
    """(dotted OID, DER Extension)."""
    if kind == "eku-email":
        oid, critical = "2.5.29.37", False
        value = der(0x30, der(0x06, bytes.fromhex("2b06010505070304")))
    elif kind == "eku-server":
        oid, critical = "2.5.29.37", False
        value = der(0x30, der(0x06, bytes.fromhex("2b06010505070301")))
    elif kind == "eku-client":
        oid, critical = "2.5.29.37", False
        value = der(0x30, der(0x06, bytes.fromhex("2b06010505070302")))
    elif kind == "ku-no-certsign":
        oid, critical = "2.5.29.15", True
        value = der(0x03, bytes([0x07, 0x80]))  # digitalSignature
    elif kind == "bc-not-ca":
        oid, critical = "2.5.29.19", True
        value = der(0x30, b"")
    elif kind == "nc-example":
        oid, critical = "2.5.29.30", True
        subtree = der(0x30, der(0x82, b"example.com"))
        value = der(0x30, der(0xA0, subtree))
    else:
        sys.exit("p11kit_record.py: unknown extension kind " + kind)
    body = der(0x06, OIDS[oid])
    if critical:
        body += der(0x01, b"\xff")
    body += der(0x04, value)
    return oid, der(0x30, body)


def main(argv):
    if len(argv) == 4 and argv[1] == "distrust":
        issuer, serial, _ = cert_fields(argv[2])
        print("[p11-kit-object-v1]\nclass: certificate\ncertificate-type: x-509")
        print('label: "%s"\nissuer: "%s"\nserial-number: "%s"\nx-distrusted: true' %
              (argv[3], pct(issuer), pct(serial)))
    elif len(argv) == 5 and argv[1] == "staple":
        _, _, spki = cert_fields(argv[2])
        oid, ext = extension(argv[3])
        print("[p11-kit-object-v1]\nclass: x-certificate-extension")
        print('label: "%s"\nobject-id: %s\npublic-key-info: "%s"\nvalue: "%s"' %
              (argv[4], oid, pct(spki), pct(ext)))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
