#!/usr/bin/env python3
"""Interoperability check: webpush (Rust) against Python `http_ece`.

Usage: python3 tests/interop/interop_http_ece.py PATH/TO/interop_peer

The peer is `examples/interop_peer.rs` (JSON request/response, one per line).
It is spawned once and serves every case; the peer handling, the helpers and
the case runner are shared in `harness.py`. Each case prints one line; the last
line is exactly `N passed, M failed`. Exit status: 0 when every case passed,
1 when a case failed, 2 when setup failed (import, spawn, peer crash).
"""

import os
import random
import sys

from harness import (
    b64e,
    check,
    check_plaintext,
    flip_bit,
    import_failed,
    new_key,
    private_bytes,
    public_bytes,
    run,
)

try:
    import http_ece
except Exception as exc:  # never skip silently
    import_failed("http_ece", exc)

REQUEST_TIMEOUT = 120  # seconds per request (debug builds, big multi-record bodies)
HEADER_FIXED = 21  # salt(16) + rs(4) + idlen(1)
OVERHEAD = 17  # delimiter + tag
WEBPUSH_HEADER = HEADER_FIXED + 65
WEBPUSH_MAX = 4096 - WEBPUSH_HEADER - OVERHEAD  # 3993

rng = random.Random(8291)  # plaintexts and salts are reproducible; keys are not


def records_in(body, rs):
    """Number of records of an aes128gcm body with record size `rs`."""
    idlen = body[20]
    rest = len(body) - HEADER_FIXED - idlen
    return -(-rest // rs)


# --------------------------------------------------------------------------
# Cases. Each one is (name, function); a function raises on failure and may
# return a short note to print.
# --------------------------------------------------------------------------

PADDINGS = {
    "none": ({"kind": "none"}, lambda n: n),
    "block32": ({"kind": "block", "size": 32}, lambda n: min(-(-n // 32) * 32, WEBPUSH_MAX)),
    "fixed3993": ({"kind": "fixed", "size": 3993}, lambda n: 3993),
}


def webpush_ours_to_theirs(peer, size, pad_name):
    padding, padded_len = PADDINGS[pad_name]
    ua, auth = new_key(), os.urandom(16)
    plaintext = rng.randbytes(size)
    body = peer.ok_bytes(
        "body",
        op="webpush_encrypt",
        p256dh=b64e(public_bytes(ua)),
        auth=b64e(auth),
        plaintext=b64e(plaintext),
        padding=padding,
    )
    check(int.from_bytes(body[16:20], "big") == 4096, "rs is not 4096")
    check(body[20] == 65, f"idlen is {body[20]}, not 65")
    want_len = WEBPUSH_HEADER + padded_len(size) + OVERHEAD
    check(len(body) == want_len, f"body is {len(body)} octets, expected {want_len}")
    got = http_ece.decrypt(body, private_key=ua, auth_secret=auth, version="aes128gcm")
    check_plaintext(got, plaintext)
    return f"body {len(body)} octets"


def webpush_theirs_to_ours(peer, size, rs):
    ua, sender, auth = new_key(), new_key(), os.urandom(16)
    plaintext = rng.randbytes(size)
    body = http_ece.encrypt(
        plaintext,
        private_key=sender,
        dh=public_bytes(ua),
        auth_secret=auth,
        rs=rs,
        version="aes128gcm",
    )
    records = records_in(body, rs)
    if size > rs - OVERHEAD:
        check(records > 1, f"expected a multi-record body, got {records} record(s)")
    got = peer.ok_bytes(
        "plaintext",
        op="webpush_decrypt",
        ua_private=b64e(private_bytes(ua)),
        auth=b64e(auth),
        body=b64e(body),
    )
    check_plaintext(got, plaintext)
    return f"{records} record(s)"


def ece_ours_to_theirs(peer, size, rs, padding, keyid=b"interop"):
    ikm, salt = rng.randbytes(16), rng.randbytes(16)
    plaintext = rng.randbytes(size)
    body = peer.ok_bytes(
        "body",
        op="ece_encrypt",
        ikm=b64e(ikm),
        salt=b64e(salt),
        rs=rs,
        keyid=b64e(keyid),
        plaintext=b64e(plaintext),
        padding=padding,
    )
    content = size + padding
    records = max(1, -(-content // (rs - OVERHEAD)))
    want_len = HEADER_FIXED + len(keyid) + content + OVERHEAD * records
    check(len(body) == want_len, f"body is {len(body)} octets, expected {want_len}")
    check(body[:16] == salt, "salt not in header")
    check(int.from_bytes(body[16:20], "big") == rs, "rs not in header")
    check(body[21 : 21 + body[20]] == keyid, "keyid not in header")
    got = http_ece.decrypt(body, key=ikm, version="aes128gcm")
    check_plaintext(got, plaintext)
    return f"{records} record(s)"


def ece_theirs_to_ours(peer, size, rs, keyid="interop"):
    ikm = rng.randbytes(16)
    plaintext = rng.randbytes(size)
    body = http_ece.encrypt(plaintext, key=ikm, keyid=keyid, rs=rs, version="aes128gcm")
    records = records_in(body, rs)
    if size > rs - OVERHEAD:
        check(records > 1, f"expected a multi-record body, got {records} record(s)")
    got = peer.ok_bytes("plaintext", op="ece_decrypt", ikm=b64e(ikm), body=b64e(body))
    check_plaintext(got, plaintext)
    return f"{records} record(s)"


def ece_byte_identical(peer, size, rs):
    """Same IKM, salt, rs, keyid and no padding: both must emit the same octets."""
    ikm, salt = rng.randbytes(32), rng.randbytes(16)
    plaintext = rng.randbytes(size)
    theirs = http_ece.encrypt(
        plaintext, salt=salt, key=ikm, keyid="kid", rs=rs, version="aes128gcm"
    )
    ours = peer.ok_bytes(
        "body",
        op="ece_encrypt",
        ikm=b64e(ikm),
        salt=b64e(salt),
        rs=rs,
        keyid=b64e(b"kid"),
        plaintext=b64e(plaintext),
        padding=0,
    )
    check(ours == theirs, f"bodies differ ({len(ours)} vs {len(theirs)} octets)")
    return f"{len(ours)} octets identical"


# ---- negative cases ------------------------------------------------------


def their_webpush_body(size=100, rs=4096):
    ua, sender, auth = new_key(), new_key(), os.urandom(16)
    body = http_ece.encrypt(
        rng.randbytes(size),
        private_key=sender,
        dh=public_bytes(ua),
        auth_secret=auth,
        rs=rs,
        version="aes128gcm",
    )
    return ua, auth, body


def neg_webpush_flip(peer, where):
    ua, auth, body = their_webpush_body(size=80, rs=40)  # 4 records
    index = {
        "salt": 3,
        "first-ciphertext-octet": WEBPUSH_HEADER,
        "middle-record": WEBPUSH_HEADER + 40 + 7,
        "last-tag-octet": len(body) - 1,
        "keyid-x": HEADER_FIXED + 10,
    }[where]
    bad = flip_bit(body, index, bit=5)
    err = peer.expect_error(
        op="webpush_decrypt",
        ua_private=b64e(private_bytes(ua)),
        auth=b64e(auth),
        body=b64e(bad),
    )
    return f"error: {err}"


def neg_webpush_wrong_auth(peer):
    ua, _auth, body = their_webpush_body()
    err = peer.expect_error(
        op="webpush_decrypt",
        ua_private=b64e(private_bytes(ua)),
        auth=b64e(os.urandom(16)),
        body=b64e(body),
    )
    return f"error: {err}"


def neg_webpush_drop_last_record(peer):
    ua, auth, body = their_webpush_body(size=80, rs=40)  # records of 23+23+23+11
    check(records_in(body, 40) == 4, f"expected 4 records, got {records_in(body, 40)}")
    cut = body[: WEBPUSH_HEADER + 3 * 40]  # ends at a record boundary
    err = peer.expect_error(
        op="webpush_decrypt",
        ua_private=b64e(private_bytes(ua)),
        auth=b64e(auth),
        body=b64e(cut),
    )
    return f"error: {err}"


def neg_webpush_empty_from_http_ece(peer):
    # http_ece emits a header with no record at all for an empty plaintext;
    # such a body has no final record (indistinguishable from truncation),
    # which RFC 8188 receivers must refuse.
    ua, auth, body = their_webpush_body(size=0)
    check(len(body) == WEBPUSH_HEADER, f"http_ece changed: body is {len(body)} octets")
    err = peer.expect_error(
        op="webpush_decrypt",
        ua_private=b64e(private_bytes(ua)),
        auth=b64e(auth),
        body=b64e(body),
    )
    return f"error: {err}"


def neg_ece_flip(peer):
    ikm = rng.randbytes(16)
    body = http_ece.encrypt(rng.randbytes(50), key=ikm, keyid="k", rs=25, version="aes128gcm")
    bad = flip_bit(body, HEADER_FIXED + 1 + 30, bit=0)  # inside the second record
    err = peer.expect_error(op="ece_decrypt", ikm=b64e(ikm), body=b64e(bad))
    return f"error: {err}"


def neg_ours_flipped_rejected_by_them(peer):
    ikm, salt = rng.randbytes(16), rng.randbytes(16)
    body = peer.ok_bytes(
        "body",
        op="ece_encrypt",
        ikm=b64e(ikm),
        salt=b64e(salt),
        rs=25,
        keyid=b64e(b"k"),
        plaintext=b64e(rng.randbytes(30)),
        padding=5,
    )
    bad = flip_bit(body, len(body) - 20)
    try:
        http_ece.decrypt(bad, key=ikm, version="aes128gcm")
    except http_ece.ECEException as exc:
        return f"http_ece: {exc.message}"
    raise AssertionError("http_ece accepted a tampered body")


def neg_payload_too_large(peer):
    err = peer.expect_error(
        op="webpush_encrypt",
        p256dh=b64e(public_bytes(new_key())),
        auth=b64e(os.urandom(16)),
        plaintext=b64e(bytes(WEBPUSH_MAX + 1)),
        padding={"kind": "none"},
    )
    return f"error: {err}"


def build_cases():
    cases = []

    for size in (0, 1, 41, 1000, 3993):
        for pad in PADDINGS:
            cases.append(
                (
                    f"webpush ours->http_ece size={size} padding={pad}",
                    lambda p, s=size, pd=pad: webpush_ours_to_theirs(p, s, pd),
                )
            )

    for rs in (18, 25, 100, 4096):
        for size in (1, 8, 41, 1000, 3993):
            cases.append(
                (
                    f"webpush http_ece->ours size={size} rs={rs}",
                    lambda p, s=size, r=rs: webpush_theirs_to_ours(p, s, r),
                )
            )

    for rs in (18, 25, 4096):
        for size in (0, 1, 17, 1000):
            for padding in (0, 1, 100, 5000):
                cases.append(
                    (
                        f"rfc8188 ours->http_ece size={size} rs={rs} padding={padding}",
                        lambda p, s=size, r=rs, pd=padding: ece_ours_to_theirs(p, s, r, pd),
                    )
                )
    cases.append(
        (
            "rfc8188 ours->http_ece empty keyid size=100 rs=30 padding=7",
            lambda p: ece_ours_to_theirs(p, 100, 30, 7, keyid=b""),
        )
    )

    for rs in (18, 25, 4096):
        for size in (1, 8, 16, 100, 1000, 5000):
            cases.append(
                (
                    f"rfc8188 http_ece->ours size={size} rs={rs}",
                    lambda p, s=size, r=rs: ece_theirs_to_ours(p, s, r),
                )
            )
    cases.append(
        (
            "rfc8188 http_ece->ours empty keyid size=100 rs=30",
            lambda p: ece_theirs_to_ours(p, 100, 30, keyid=""),
        )
    )

    for size, rs in ((1, 18), (8, 25), (9, 25), (100, 25), (4079, 4096), (5000, 4096)):
        cases.append(
            (
                f"rfc8188 byte-identical to http_ece size={size} rs={rs}",
                lambda p, s=size, r=rs: ece_byte_identical(p, s, r),
            )
        )

    for where in ("salt", "keyid-x", "first-ciphertext-octet", "middle-record", "last-tag-octet"):
        cases.append(
            (
                f"negative: http_ece webpush body, bit flipped in {where}",
                lambda p, w=where: neg_webpush_flip(p, w),
            )
        )
    cases += [
        ("negative: http_ece webpush body, wrong auth secret", neg_webpush_wrong_auth),
        ("negative: http_ece webpush body, last record dropped", neg_webpush_drop_last_record),
        ("negative: http_ece webpush body for empty plaintext (no record)", neg_webpush_empty_from_http_ece),
        ("negative: http_ece rfc8188 body, bit flipped in record 2", neg_ece_flip),
        ("negative: our rfc8188 body, bit flipped, http_ece refuses", neg_ours_flipped_rejected_by_them),
        ("negative: webpush payload of 3994 octets refused", neg_payload_too_large),
    ]
    return cases


def main():
    return run(build_cases, ("http_ece", "cryptography"), REQUEST_TIMEOUT)


if __name__ == "__main__":
    sys.exit(main())
