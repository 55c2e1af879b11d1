#!/usr/bin/env python3
"""Interoperability check: webpush VAPID (RFC 8292) against Python `PyJWT`.

Usage: python3 tests/interop/interop_vapid.py PATH/TO/interop_peer

The peer is `examples/interop_peer.rs` (JSON request/response, one per line).
It is spawned once and serves every case (peer handling, helpers and the case
runner are shared in `harness.py`). Keys are generated and exported by
`cryptography`; tokens are checked and made by PyJWT (ES256 on
`cryptography`). Each case prints one line; the last line is exactly
`N passed, M failed`. Exit status: 0 when every case passed, 1 when a case
failed, 2 when setup failed (import, spawn, peer crash).
"""

import json
import re
import sys
import time

from harness import (
    b64d_strict,
    b64e,
    check,
    import_failed,
    new_key,
    public_bytes,
    run,
)

try:
    import jwt
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import (
        decode_dss_signature,
        encode_dss_signature,
    )
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        load_pem_private_key,
    )
except Exception as exc:  # never skip silently
    import_failed("PyJWT/cryptography", exc)

REQUEST_TIMEOUT = 60  # seconds per request
HOUR = 3600
DAY = 24 * HOUR
DEFAULT_VALIDITY = 12 * HOUR  # what VapidSigner uses
JOSE_HEADER = {"typ": "JWT", "alg": "ES256"}
JOSE_HEADER_TEXT = b'{"typ":"JWT","alg":"ES256"}'  # RFC 8292, Section 2.4 example form
B64URL = r"[A-Za-z0-9_-]+"
AUTHORIZATION = re.compile(rf"^vapid t=({B64URL}\.{B64URL}\.{B64URL}), k=({B64URL})$")

AUDIENCES = ("https://push.example.net", "https://push.example.net:8443", "http://127.0.0.1:9000")
SUBJECTS = {  # given -> the claim we expect
    "mailto:ops@example.com": "mailto:ops@example.com",
    "https://example.com/contact": "https://example.com/contact",
    "ops@example.com": "mailto:ops@example.com",
}
BAD_SUBJECTS = (
    "mailto:mailto:x@example.com",
    "mailto:ops@localhost",
    "http://example.com",
    "mailto: ops@example.com",
)


def now():
    return int(time.time())


def public_b64(key):
    """The uncompressed point, base64url without padding (what `k` must be)."""
    return b64e(public_bytes(key))


def export(key, fmt):
    """The private key as text in one of the forms `VapidKey::parse` takes."""
    if fmt == "pkcs8-pem":
        return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    if fmt == "sec1-pem":
        text = key.private_bytes(Encoding.PEM, PrivateFormat.TraditionalOpenSSL, NoEncryption())
        text = text.decode()
        check("-----BEGIN EC PRIVATE KEY-----" in text, "cryptography did not write SEC1 PEM")
        return text
    numbers = key.private_numbers()
    d = numbers.private_value.to_bytes(32, "big")
    if fmt == "scalar-b64url":
        return b64e(d)
    if fmt == "jwk":
        pub = numbers.public_numbers
        return json.dumps(
            {
                "kty": "EC",
                "crv": "P-256",
                "x": b64e(pub.x.to_bytes(32, "big")),
                "y": b64e(pub.y.to_bytes(32, "big")),
                "d": b64e(d),
            }
        )
    raise ValueError(fmt)


KEY_FORMATS = ("pkcs8-pem", "sec1-pem", "scalar-b64url", "jwk")


def split_authorization(value):
    m = AUTHORIZATION.match(value)
    check(m, f"not of the form 'vapid t=<jwt>, k=<key>': {value[:120]!r}")
    return m.group(1), m.group(2)


def check_our_token(key, authorization, aud, want_sub, want_exp=None):
    """Checks our `Authorization` value with PyJWT; returns the claims."""
    t, k = split_authorization(authorization)
    check(k == public_b64(key), f"k is {k[:20]}..., not the key's uncompressed point")
    header_b64, _claims_b64, sig_b64 = t.split(".")
    header_text = b64d_strict(header_b64)
    check(
        json.loads(header_text) == JOSE_HEADER,
        f"JOSE header is {header_text!r}, want {JOSE_HEADER_TEXT!r}",
    )
    check(jwt.get_unverified_header(t) == JOSE_HEADER, "PyJWT reads another header")
    check(header_text == JOSE_HEADER_TEXT, f"JOSE header text is {header_text!r}")
    sig = b64d_strict(sig_b64)
    check(len(sig) == 64, f"signature is {len(sig)} octets, not 64 (raw r||s)")
    claims = jwt.decode(
        t,
        key.public_key(),
        algorithms=["ES256"],
        audience=aud,
        options={"require": ["aud", "exp", "sub"]},
    )
    check(set(claims) == {"aud", "exp", "sub"}, f"claims are {sorted(claims)}")
    check(claims["aud"] == aud, f"aud is {claims['aud']!r}, want {aud!r}")
    check(claims["sub"] == want_sub, f"sub is {claims['sub']!r}, want {want_sub!r}")
    if want_exp is not None:
        check(claims["exp"] == want_exp, f"exp is {claims['exp']}, want {want_exp}")
    return t, claims


# --------------------------------------------------------------------------
# Cases. Each one is (name, function); a function raises on failure and may
# return a short note to print.
# --------------------------------------------------------------------------


def ours_to_pyjwt(peer, fmt, aud, sub):
    key = new_key()
    t0 = now()
    exp = t0 + DEFAULT_VALIDITY
    reply = peer.ok(op="vapid_sign", key=export(key, fmt), aud=aud, sub=sub, exp=exp, now=t0)
    t, claims = check_our_token(key, reply["authorization"], aud, SUBJECTS[sub], exp)
    check(reply["jwt"] == t, "jwt field differs from t= in the Authorization value")
    check(reply["k"] == public_b64(key), "k field is not the key's public point")
    return f"sub={claims['sub']}"


def ours_byte_identical_rfc6979(peer):
    """Our ES256 signature equals cryptography's deterministic ECDSA (RFC 6979)."""
    key = new_key()
    t0 = now()
    reply = peer.ok(
        op="vapid_sign",
        key=export(key, "pkcs8-pem"),
        aud=AUDIENCES[0],
        sub="mailto:ops@example.com",
        exp=t0 + HOUR,
        now=t0,
    )
    signing_input, _, sig_b64 = reply["jwt"].rpartition(".")
    der = key.sign(
        signing_input.encode("ascii"),
        ec.ECDSA(hashes.SHA256(), deterministic_signing=True),
    )
    r, s = decode_dss_signature(der)
    theirs = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    check(
        b64d_strict(sig_b64) == theirs,
        "signature differs from cryptography's RFC 6979 signature",
    )
    again = peer.ok(
        op="vapid_sign",
        key=export(key, "jwk"),
        aud=AUDIENCES[0],
        sub="mailto:ops@example.com",
        exp=t0 + HOUR,
        now=t0,
    )
    check(again["jwt"] == reply["jwt"], "same inputs gave a different token")
    return "64 octets identical"


def expiry_24h_signs(peer):
    key = new_key()
    t0 = now()
    reply = peer.ok(
        op="vapid_sign",
        key=export(key, "scalar-b64url"),
        aud=AUDIENCES[0],
        sub="mailto:ops@example.com",
        exp=t0 + DAY,
        now=t0,
    )
    check_our_token(key, reply["authorization"], AUDIENCES[0], "mailto:ops@example.com", t0 + DAY)
    return "exp = now + 86400 verified by PyJWT"


def expiry_refused(peer, delta):
    t0 = now()
    err = peer.expect_error(
        op="vapid_sign",
        key=export(new_key(), "scalar-b64url"),
        aud=AUDIENCES[0],
        sub="mailto:ops@example.com",
        exp=t0 + delta,
        now=t0,
    )
    return f"error: {err}"


def bad_subject_refused(peer, sub, op):
    request = dict(op=op, key=export(new_key(), "pkcs8-pem"), aud=AUDIENCES[0], sub=sub)
    if op == "vapid_sign":
        t0 = now()
        request.update(exp=t0 + HOUR, now=t0)
    err = peer.expect_error(**request)
    return f"error: {err}"


def signer_to_pyjwt(peer, fmt, aud, sub):
    key = new_key()
    before = now()
    reply = peer.ok(op="vapid_signer", key=export(key, fmt), aud=aud, sub=sub)
    after = now()
    expires_at = reply["expires_at"]
    check(
        before + DEFAULT_VALIDITY - 60 <= expires_at <= after + DEFAULT_VALIDITY + 60,
        f"expires_at {expires_at} is not now + 12 h (+-60 s); now is {after}",
    )
    _t, claims = check_our_token(key, reply["authorization"], aud, SUBJECTS[sub], expires_at)
    return f"exp = now + {claims['exp'] - after} s"


def pyjwt_token(key, claims, headers=None):
    return jwt.encode(claims, key, algorithm="ES256", headers=headers or {"typ": "JWT"})


def pyjwt_to_ours(peer, aud, sub, exp_delta, spacing=", "):
    key = new_key()
    t0 = now()
    claims = {"sub": sub, "aud": aud, "exp": t0 + exp_delta}  # not our claim order
    t = pyjwt_token(key, claims)
    reply = peer.ok(
        op="vapid_verify", authorization=f"vapid t={t}{spacing}k={public_b64(key)}", now=t0
    )
    got = {name: reply.get(name) for name in ("aud", "exp", "sub", "k")}
    want = dict(claims, k=public_b64(key))
    check(got == want, f"peer read {got}, want {want}")
    return f"exp = now + {exp_delta} s"


def pyjwt_neg(peer, what):
    key = new_key()
    t0 = now()
    claims = {"aud": AUDIENCES[0], "exp": t0 + HOUR, "sub": "mailto:ops@example.com"}
    k = public_b64(key)
    if what == "signed by another key than k":
        t = pyjwt_token(new_key(), claims)
    elif what == "tampered payload":
        h, _c, s = pyjwt_token(key, claims).split(".")
        forged = dict(claims, aud="https://evil.example.net")
        t = ".".join((h, b64e(json.dumps(forged, separators=(",", ":")).encode()), s))
    elif what == "tampered signature":
        h, c, s = pyjwt_token(key, claims).split(".")
        sig = bytearray(b64d_strict(s))
        sig[40] ^= 0x01
        t = ".".join((h, c, b64e(bytes(sig))))
    elif what == "DER signature":
        h, c, s = pyjwt_token(key, claims).split(".")
        raw = b64d_strict(s)
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        t = ".".join((h, c, b64e(der)))
    elif what == "expired":
        t = pyjwt_token(key, dict(claims, exp=t0 - 60))
    elif what == "exp 25 h ahead":
        t = pyjwt_token(key, dict(claims, exp=t0 + 25 * HOUR))
    elif what == "alg HS256":
        t = jwt.encode(claims, "a shared secret, not an EC key: 32+ octets", algorithm="HS256")
    else:
        raise ValueError(what)
    err = peer.expect_error(op="vapid_verify", authorization=f"vapid t={t}, k={k}", now=t0)
    return f"error: {err}"


def key_import(peer, fmt):
    key = new_key()
    reply = peer.ok(op="vapid_key", key=export(key, fmt))
    check(reply["public"] == public_b64(key), "public key differs from cryptography's")
    back = load_pem_private_key(reply["pkcs8_pem"].encode(), password=None)
    check(
        back.private_numbers() == key.private_numbers(),
        "cryptography reads another key from our PKCS#8 PEM",
    )
    theirs = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    return "PKCS#8 PEM identical" if reply["pkcs8_pem"] == theirs else "PKCS#8 PEM re-imports"


def build_cases():
    cases = []
    for fmt in KEY_FORMATS:
        for aud in AUDIENCES:
            for sub in SUBJECTS:
                cases.append(
                    (
                        f"ours->PyJWT key={fmt} aud={aud} sub={sub}",
                        lambda p, f=fmt, a=aud, s=sub: ours_to_pyjwt(p, f, a, s),
                    )
                )
    cases.append(
        (
            "ours->cryptography: ES256 signature is RFC 6979 byte-identical",
            ours_byte_identical_rfc6979,
        )
    )

    cases.append(("24 h rule: exp = now + 86400 signs", expiry_24h_signs))
    for delta, label in ((DAY + 1, "now + 86401"), (0, "now"), (-1, "now - 1")):
        cases.append(
            (f"24 h rule: exp = {label} refused", lambda p, d=delta: expiry_refused(p, d))
        )

    for sub in BAD_SUBJECTS:
        for op in ("vapid_sign", "vapid_signer"):
            cases.append(
                (
                    f"sub {sub!r} refused by {op}",
                    lambda p, s=sub, o=op: bad_subject_refused(p, s, o),
                )
            )

    for fmt, aud, sub in (
        ("pkcs8-pem", AUDIENCES[0], "mailto:ops@example.com"),
        ("sec1-pem", AUDIENCES[1], "https://example.com/contact"),
        ("jwk", AUDIENCES[2], "ops@example.com"),
    ):
        cases.append(
            (
                f"VapidSigner->PyJWT key={fmt} aud={aud} sub={sub}",
                lambda p, f=fmt, a=aud, s=sub: signer_to_pyjwt(p, f, a, s),
            )
        )

    for aud in AUDIENCES:
        for sub in ("mailto:ops@example.com", "https://example.com/contact"):
            cases.append(
                (
                    f"PyJWT->ours aud={aud} sub={sub}",
                    lambda p, a=aud, s=sub: pyjwt_to_ours(p, a, s, 12 * HOUR),
                )
            )
    for delta, label in ((DAY, "24 h"), (1, "1 s")):
        cases.append(
            (
                f"PyJWT->ours exp = now + {label}",
                lambda p, d=delta: pyjwt_to_ours(p, AUDIENCES[0], "mailto:ops@example.com", d),
            )
        )
    cases.append(
        (
            "PyJWT->ours 't=..,k=..' without a space",
            lambda p: pyjwt_to_ours(p, AUDIENCES[1], "mailto:ops@example.com", HOUR, spacing=","),
        )
    )

    for what in (
        "signed by another key than k",
        "tampered payload",
        "tampered signature",
        "DER signature",
        "expired",
        "exp 25 h ahead",
        "alg HS256",
    ):
        cases.append(
            (f"negative: PyJWT token, {what}, refused", lambda p, w=what: pyjwt_neg(p, w))
        )

    for fmt in KEY_FORMATS:
        cases.append(
            (
                f"key import {fmt}: same public key as cryptography",
                lambda p, f=fmt: key_import(p, f),
            )
        )
    return cases


def main():
    return run(
        build_cases,
        ("PyJWT", "cryptography"),
        REQUEST_TIMEOUT,
        expected=(AssertionError, jwt.PyJWTError),
    )


if __name__ == "__main__":
    sys.exit(main())
