# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
"""api.py LIB COMMAND ARGS... - calls libp11tls's C API (ctypes) for the
module suites, where the CLI has no option for what is tested.

  add-sign PATH INIT_RESERVED|- KEY_URI
      a context without registered modules, p11tls_ctx_add_module_with_args
      (- : p11tls_ctx_add_module), then opens KEY_URI and signs with
      ecdsa_secp256r1_sha256. Prints "add=RC open=RC sign=RC" and
      "detail: ..." after the first failure.
  add-twice PATH FIRST|- SECOND|-
      adds PATH with FIRST then with SECOND init_reserved; prints
      "first=RC second=RC".
Exit status 0 unless the library cannot be loaded (99).
"""
import ctypes
import sys


def main():
    try:
        lib = ctypes.CDLL(sys.argv[1])
    except OSError as e:
        print(f"cannot load {sys.argv[1]}: {e}", file=sys.stderr)
        return 99
    lib.p11tls_last_error_detail.restype = ctypes.c_char_p
    ctx = ctypes.c_void_p()
    if lib.p11tls_ctx_new(ctypes.byref(ctx)) != 0:
        return 99
    lib.p11tls_ctx_set_flags(ctx, 1)  # P11TLS_CTX_NO_REGISTERED_MODULES

    def add(path, reserved):
        if reserved == "-":
            return lib.p11tls_ctx_add_module(ctx, path.encode())
        return lib.p11tls_ctx_add_module_with_args(ctx, path.encode(), reserved.encode())

    def detail():
        d = lib.p11tls_last_error_detail()
        return d.decode() if d else ""

    cmd = sys.argv[2]
    if cmd == "add-sign":
        path, reserved, uri = sys.argv[3:6]
        rc = add(path, reserved)
        out = [f"add={rc}"]
        if rc == 0:
            key = ctypes.c_void_p()
            rc = lib.p11tls_key_open(ctx, uri.encode(), 0, ctypes.byref(key))
            out.append(f"open={rc}")
            if rc == 0:
                sig = (ctypes.c_uint8 * 512)()
                n = ctypes.c_size_t(len(sig))
                msg = b"hello"
                rc = lib.p11tls_key_sign(key, 0x0403, msg, ctypes.c_size_t(len(msg)), sig, ctypes.byref(n))
                out.append(f"sign={rc}")
                lib.p11tls_key_free(key)
        print(" ".join(out))
        if rc != 0:
            print("detail: " + detail())
    elif cmd == "add-twice":
        path, first, second = sys.argv[3:6]
        rc1 = add(path, first)
        rc2 = add(path, second)
        print(f"first={rc1} second={rc2}")
        if rc2 != 0:
            print("detail: " + detail())
    lib.p11tls_ctx_free(ctx)
    return 0


sys.exit(main())
