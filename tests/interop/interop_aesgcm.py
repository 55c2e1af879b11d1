#!/usr/bin/env python3
"""Interoperability check of the legacy `aesgcm` coding (draft-ietf-webpush-
encryption-04): webpush (Rust, feature `aesgcm`) against Python `http_ece`.

Usage: python3 tests/interop/interop_aesgcm.py PATH/TO/interop_peer

The peer is `examples/interop_peer.rs` built with `--features aesgcm` (JSON
request/response, one per line). It is spawned once and serves every case;
the peer handling, the helpers and the case runner are shared in `harness.py`.
Each case prints one line; the last line is exactly `N passed, M failed`.
Exit status: 0 when every case passed, 1 when a case failed, 2 when setup
failed (import, spawn, peer crash, peer built without the feature).
"""

import os
import random
import sys

from harness import (
    SetupError,
    b64d,
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
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
except Exception as exc:  # never skip silently
    import_failed("http_ece/cryptography", exc)

REQUEST_TIMEOUT = 120  # seconds per request (debug builds, many small records)
OVERHEAD = 18  # 2-octet padding length + 16-octet tag, per record
MAX_BODY = 4096
AESGCM_MAX = MAX_BODY - OVERHEAD  # 4078: one record of rs 4096
DEFAULT_RS = 4096

# draft-ietf-webpush-encryption-04, Section 5 and Appendix A (also in
# tests/data/aesgcm-draft04.json).
DRAFT = {
    "plaintext": b"I am the walrus",
    "as_private": "nCScek-QpEjmOOlT-rQ38nZzvdPlqa00Zy0i6m2OJvY",
    "as_public": "BNoRDbb84JGm8g5Z5CFxurSqsXWJ11ItfXEWYVLE85Y7CYkDjXsIEc4aqxYaQ1G8BqkXCJ6DPpDrWtdWj_mugHU",
    "ua_private": "9FWl15_QUQAWDaD3k3l50ZBZQJ4au27F1V4F0uLSD_M",
    "ua_public": "BCEkBjzL8Z3C-oi2Q7oE5t2Np-p7osjGLg93qUP0wvqRT21EEWyf0cQDQcakQMqz4hQKYOQ3il2nNZct4HgAUQU",
    "salt": "lngarbyKfMoi9Z75xYXmkg",
    "auth_secret": "R29vIGdvbyBnJyBqb29iIQ",
    "body": "6nqAQUME8hNqw5J3kl8cpVVJylXKYqZOeseZG8UueKpA",
}

rng = random.Random(4)  # plaintexts and salts are reproducible; keys are not


def key_from_private(b64):
    return ec.derive_private_key(int.from_bytes(b64d(b64), "big"), ec.SECP256R1())


def records_of(body, rs):
    return -(-len(body) // (rs + 16))


def their_encrypt(plaintext, ua, auth, rs=DEFAULT_RS, salt=None, sender=None):
    sender = sender or new_key()
    salt = salt or os.urandom(16)
    body = http_ece.encrypt(
        plaintext,
        salt=salt,
        private_key=sender,
        dh=public_bytes(ua),
        auth_secret=auth,
        rs=rs,
        version="aesgcm",
    )
    return body, salt, sender


def headers_for(salt, sender, rs=DEFAULT_RS, style="plain"):
    salt_b64, dh_b64 = b64e(salt), b64e(public_bytes(sender))
    rs_param = "" if rs == DEFAULT_RS else f";rs={rs}"
    if style == "plain":
        return f"salt={salt_b64}{rs_param}", f"dh={dh_b64}"
    # Quoted values and key ids, as the draft's examples and node's web-push
    # of that era wrote them, plus a VAPID key in Crypto-Key.
    return (
        f'keyid="p256dh"; salt="{salt_b64}"{rs_param.replace(";", "; ")}',
        f'keyid="p256dh"; dh="{dh_b64}";p256ecdsa={b64e(public_bytes(new_key()))}',
    )


def our_decrypt(peer, ua, auth, body, encryption, crypto_key):
    return peer.ok_bytes(
        "plaintext",
        op="aesgcm_decrypt",
        ua_private=b64e(private_bytes(ua)),
        auth=b64e(auth),
        body=b64e(body),
        encryption=encryption,
        crypto_key=crypto_key,
    )


def our_decrypt_error(peer, ua, auth, body, encryption, crypto_key):
    return peer.expect_error(
        op="aesgcm_decrypt",
        ua_private=b64e(private_bytes(ua)),
        auth=b64e(auth),
        body=b64e(body),
        encryption=encryption,
        crypto_key=crypto_key,
    )


def their_keys(ua, auth, salt, sender):
    """http_ece's own key derivation (CEK, nonce base), for hand-made records."""
    return http_ece.derive_key(
        "encrypt",
        version="aesgcm",
        salt=salt,
        key=None,
        private_key=sender,
        dh=public_bytes(ua),
        auth_secret=auth,
        keyid=None,
    )


def seal_raw(key, nonce, records):
    """AES-GCM over raw record plaintexts (padding length included)."""
    aead = AESGCM(key)
    return b"".join(aead.encrypt(http_ece.iv(nonce, i), r, None) for i, r in enumerate(records))


# ---- the draft's example --------------------------------------------------


def kat_http_ece_decrypts_the_draft():
    got = http_ece.decrypt(
        b64d(DRAFT["body"]),
        salt=b64d(DRAFT["salt"]),
        private_key=key_from_private(DRAFT["ua_private"]),
        dh=b64d(DRAFT["as_public"]),
        auth_secret=b64d(DRAFT["auth_secret"]),
        version="aesgcm",
    )
    check_plaintext(got, DRAFT["plaintext"])


def kat_ours_encrypts_the_draft(peer):
    reply = peer.ok(
        op="aesgcm_encrypt_predictably",
        sender_private=DRAFT["as_private"],
        salt=DRAFT["salt"],
        p256dh=DRAFT["ua_public"],
        auth=DRAFT["auth_secret"],
        plaintext=b64e(DRAFT["plaintext"]),
    )
    check(reply["body"] == DRAFT["body"], f"body {reply['body']} != {DRAFT['body']}")
    check(reply["encryption"] == f"salt={DRAFT['salt']}", reply["encryption"])
    check(reply["crypto_key"] == f"dh={DRAFT['as_public']}", reply["crypto_key"])
    return "33 octets identical to the draft"


def kat_ours_decrypts_the_draft(peer):
    got = our_decrypt(
        peer,
        key_from_private(DRAFT["ua_private"]),
        b64d(DRAFT["auth_secret"]),
        b64d(DRAFT["body"]),
        f'salt="{DRAFT["salt"]}"',
        f'dh="{DRAFT["as_public"]}"',
    )
    check_plaintext(got, DRAFT["plaintext"])


# ---- ours -> http_ece ------------------------------------------------------

PADDINGS = {
    "none": ({"kind": "none"}, lambda n: n),
    "block32": ({"kind": "block", "size": 32}, lambda n: min(-(-n // 32) * 32, AESGCM_MAX)),
    "fixed4078": ({"kind": "fixed", "size": AESGCM_MAX}, lambda n: AESGCM_MAX),
}


def ours_to_theirs(peer, size, pad_name):
    padding, padded_len = PADDINGS[pad_name]
    ua, auth = new_key(), os.urandom(16)
    plaintext = rng.randbytes(size)
    reply = peer.ok(
        op="aesgcm_encrypt",
        p256dh=b64e(public_bytes(ua)),
        auth=b64e(auth),
        plaintext=b64e(plaintext),
        padding=padding,
    )
    body, salt, dh = b64d(reply["body"]), b64d(reply["salt"]), b64d(reply["dh"])
    check(reply["encryption"] == f"salt={reply['salt']}", f"Encryption: {reply['encryption']}")
    check(reply["crypto_key"] == f"dh={reply['dh']}", f"Crypto-Key: {reply['crypto_key']}")
    check(len(salt) == 16 and len(dh) == 65 and dh[0] == 4, "salt or dh malformed")
    want_len = padded_len(size) + OVERHEAD
    check(len(body) == want_len, f"body is {len(body)} octets, expected {want_len}")
    got = http_ece.decrypt(
        body, salt=salt, private_key=ua, dh=dh, auth_secret=auth, version="aesgcm"
    )
    check_plaintext(got, plaintext)
    return f"body {len(body)} octets"


def predictable(peer, sender, salt, rs, ua, auth, plaintext, padding=None):
    request = dict(
        op="aesgcm_encrypt_predictably",
        sender_private=b64e(private_bytes(sender)),
        salt=b64e(salt),
        rs=rs,
        p256dh=b64e(public_bytes(ua)),
        auth=b64e(auth),
        plaintext=b64e(plaintext),
    )
    if padding is not None:
        request["padding"] = padding
    return peer.ok_bytes("body", **request)


def byte_identical(peer, size, rs):
    """Same sender key, salt, rs and no padding: both must emit the same octets."""
    ua, sender, auth, salt = new_key(), new_key(), os.urandom(16), rng.randbytes(16)
    plaintext = rng.randbytes(size)
    theirs, _, _ = their_encrypt(plaintext, ua, auth, rs=rs, salt=salt, sender=sender)
    ours = predictable(peer, sender, salt, rs, ua, auth, plaintext)
    check(ours == theirs, f"bodies differ ({len(ours)} vs {len(theirs)} octets)")
    return f"{len(ours)} octets, {records_of(ours, rs)} record(s) identical"


def ours_multi_record_padded_to_theirs(peer, size, rs, pad_to):
    ua, sender, auth, salt = new_key(), new_key(), os.urandom(16), rng.randbytes(16)
    plaintext = rng.randbytes(size)
    body = predictable(
        peer, sender, salt, rs, ua, auth, plaintext, padding={"kind": "fixed", "size": pad_to}
    )
    records = pad_to // (rs - 2) + 1
    check(len(body) == pad_to + records * OVERHEAD, f"body is {len(body)} octets")
    got = http_ece.decrypt(
        body,
        salt=salt,
        private_key=ua,
        dh=public_bytes(sender),
        auth_secret=auth,
        rs=rs,
        version="aesgcm",
    )
    check_plaintext(got, plaintext)
    return f"{records} record(s), padding spread over the first ones"


# ---- http_ece -> ours ------------------------------------------------------


def theirs_to_ours(peer, size, rs, style="plain"):
    ua, auth = new_key(), os.urandom(16)
    plaintext = rng.randbytes(size)
    body, salt, sender = their_encrypt(plaintext, ua, auth, rs=rs)
    encryption, crypto_key = headers_for(salt, sender, rs, style)
    got = our_decrypt(peer, ua, auth, body, encryption, crypto_key)
    check_plaintext(got, plaintext)
    return f"{records_of(body, rs)} record(s)"


def theirs_padded_records_to_ours(peer):
    """Records with padding, sealed under http_ece's key derivation."""
    ua, sender, auth, salt = new_key(), new_key(), os.urandom(16), rng.randbytes(16)
    key, nonce = their_keys(ua, auth, salt, sender)
    rs = 12
    records = [
        b"\x00\x00" + b"0123456789",  # full record, no padding
        b"\x00\x05" + bytes(5) + b"abcde",  # full record, 5 octets of padding
        b"\x00\x0a" + bytes(10),  # full record, all padding
        b"\x00\x01" + bytes(1) + b"end",  # final, shorter record
    ]
    body = seal_raw(key, nonce, records)
    want = b"0123456789abcdeend"
    # http_ece agrees on what the records say...
    theirs = http_ece.decrypt(
        body, salt=salt, private_key=ua, dh=public_bytes(sender), auth_secret=auth, rs=rs,
        version="aesgcm",
    )
    check_plaintext(theirs, want)
    # ...and so do we.
    encryption, crypto_key = headers_for(salt, sender, rs)
    check_plaintext(our_decrypt(peer, ua, auth, body, encryption, crypto_key), want)
    return "4 records"


# ---- negative cases --------------------------------------------------------


def their_body(size=60, rs=25):
    ua, auth = new_key(), os.urandom(16)
    body, salt, sender = their_encrypt(rng.randbytes(size), ua, auth, rs=rs)
    return ua, auth, body, salt, sender, rs


def neg_flip(peer, where):
    ua, auth, body, salt, sender, rs = their_body()  # records of 23, 23, 14 octets of data
    check(records_of(body, rs) == 3, f"expected 3 records, got {records_of(body, rs)}")
    index = {"first-record": 0, "middle-record": 41 + 7, "last-tag-octet": len(body) - 1}[where]
    bad = flip_bit(body, index, bit=3)
    return "error: " + our_decrypt_error(peer, ua, auth, bad, *headers_for(salt, sender, rs))


def neg_wrong_inputs(peer, what):
    ua, auth, body, salt, sender, rs = their_body()
    encryption, crypto_key = headers_for(salt, sender, rs)
    if what == "auth":
        auth = os.urandom(16)
    elif what == "salt":
        encryption, _ = headers_for(os.urandom(16), sender, rs)
    elif what == "dh":
        _, crypto_key = headers_for(salt, new_key(), rs)
    elif what == "rs":
        encryption, _ = headers_for(salt, sender, rs + 1)
    elif what == "receiver":
        ua = new_key()
    return "error: " + our_decrypt_error(peer, ua, auth, body, encryption, crypto_key)


def neg_truncated(peer, how):
    ua, auth, body, salt, sender, rs = their_body()
    chunk = rs + 16
    cut = {
        "last-record-dropped": body[: 2 * chunk],
        "at-first-boundary": body[:chunk],
        "empty": b"",
        "last-octet-dropped": body[:-1],
        "tail-shorter-than-a-tag": body[: 2 * chunk + 10],
    }[how]
    return "error: " + our_decrypt_error(peer, ua, auth, cut, *headers_for(salt, sender, rs))


def neg_exact_multiple_without_final_record(peer):
    # http_ece ends a body whose data fills its records with an empty record;
    # without it the body is a multiple of rs + 16, i.e. truncated.
    ua, auth = new_key(), os.urandom(16)
    body, salt, sender = their_encrypt(rng.randbytes(46), ua, auth, rs=25)
    check(len(body) == 2 * 41 + 18, f"http_ece changed: {len(body)} octets")
    return "error: " + our_decrypt_error(peer, ua, auth, body[:82], *headers_for(salt, sender, 25))


def neg_bad_padding(peer, kind):
    ua, sender, auth, salt = new_key(), new_key(), os.urandom(16), rng.randbytes(16)
    key, nonce = their_keys(ua, auth, salt, sender)
    record = {
        "nonzero-padding": b"\x00\x02\x00\x01hi",
        "padding-past-record": b"\x00\x09\x00\x00",
    }[kind]
    body = seal_raw(key, nonce, [record])
    try:
        http_ece.decrypt(
            body, salt=salt, private_key=ua, dh=public_bytes(sender), auth_secret=auth,
            version="aesgcm",
        )
    except http_ece.ECEException:
        pass
    else:
        raise AssertionError("http_ece accepted the record: the case proves nothing")
    return "error: " + our_decrypt_error(peer, ua, auth, body, *headers_for(salt, sender))


def neg_bad_headers(peer, what):
    ua, auth, body, salt, sender, rs = their_body(size=10, rs=DEFAULT_RS)
    encryption, crypto_key = headers_for(salt, sender)
    encryption, crypto_key = {
        "no-salt": ("rs=4096", crypto_key),
        "short-salt": ("salt=AAAA", crypto_key),
        "two-salts": (f"{encryption};{encryption}", crypto_key),
        "rs-2": (f"{encryption};rs=2", crypto_key),
        "no-dh": (encryption, "keyid=p256dh"),
        "dh-off-curve": (encryption, "dh=B" + "A" * 86),
    }[what]
    return "error: " + our_decrypt_error(peer, ua, auth, body, encryption, crypto_key)


def neg_ours_flipped_rejected_by_them(peer):
    ua, sender, auth, salt = new_key(), new_key(), os.urandom(16), rng.randbytes(16)
    body = predictable(peer, sender, salt, 25, ua, auth, rng.randbytes(50))
    bad = flip_bit(body, 30)
    try:
        http_ece.decrypt(
            bad, salt=salt, private_key=ua, dh=public_bytes(sender), auth_secret=auth, rs=25,
            version="aesgcm",
        )
    except http_ece.ECEException as exc:
        return f"http_ece: {exc.message}"
    raise AssertionError("http_ece accepted a tampered body")


def neg_payload_too_large(peer):
    err = peer.expect_error(
        op="aesgcm_encrypt",
        p256dh=b64e(public_bytes(new_key())),
        auth=b64e(os.urandom(16)),
        plaintext=b64e(bytes(AESGCM_MAX + 1)),
    )
    return f"error: {err}"


def build_cases():
    cases = [
        ("draft-04 example: http_ece decrypts the draft's body", lambda p: kat_http_ece_decrypts_the_draft()),
        ("draft-04 example: ours encrypts to the draft's body byte for byte", kat_ours_encrypts_the_draft),
        ("draft-04 example: ours decrypts the draft's request (quoted headers)", kat_ours_decrypts_the_draft),
    ]
    for size in (0, 1, 15, 1000, 3993, AESGCM_MAX):
        for pad in PADDINGS:
            cases.append(
                (
                    f"aesgcm ours->http_ece size={size} padding={pad}",
                    lambda p, s=size, pd=pad: ours_to_theirs(p, s, pd),
                )
            )
    for size, rs in (
        (0, 4096), (1, 4096), (15, 4096), (200, 4096), (4078, 4096),
        (1, 3), (2, 3), (50, 3), (8, 10), (16, 10), (17, 10), (100, 25), (1000, 100),
    ):
        cases.append(
            (
                f"aesgcm byte-identical to http_ece size={size} rs={rs}",
                lambda p, s=size, r=rs: byte_identical(p, s, r),
            )
        )
    for size, rs, pad_to in ((3, 10, 40), (100, 25, 300), (0, 4096, 4078), (10, 3, 60)):
        cases.append(
            (
                f"aesgcm ours->http_ece multi-record padded size={size} rs={rs} padded={pad_to}",
                lambda p, s=size, r=rs, t=pad_to: ours_multi_record_padded_to_theirs(p, s, r, t),
            )
        )
    for rs in (3, 10, 25, 100, 4096):
        for size in (0, 1, 8, 16, 100, 1000, 4078, 6000):
            cases.append(
                (
                    f"aesgcm http_ece->ours size={size} rs={rs}",
                    lambda p, s=size, r=rs: theirs_to_ours(p, s, r),
                )
            )
    for size, rs in ((100, 4096), (100, 30)):
        cases.append(
            (
                f"aesgcm http_ece->ours quoted headers with keyid and p256ecdsa size={size} rs={rs}",
                lambda p, s=size, r=rs: theirs_to_ours(p, s, r, style="quoted"),
            )
        )
    cases.append(("aesgcm http_ece keys->ours records with padding", theirs_padded_records_to_ours))

    for where in ("first-record", "middle-record", "last-tag-octet"):
        cases.append(
            (f"negative: http_ece body, bit flipped in {where}", lambda p, w=where: neg_flip(p, w))
        )
    for what in ("auth", "salt", "dh", "rs", "receiver"):
        cases.append(
            (f"negative: http_ece body, wrong {what}", lambda p, w=what: neg_wrong_inputs(p, w))
        )
    for how in (
        "last-record-dropped", "at-first-boundary", "empty", "last-octet-dropped",
        "tail-shorter-than-a-tag",
    ):
        cases.append(
            (f"negative: http_ece body truncated: {how}", lambda p, h=how: neg_truncated(p, h))
        )
    cases.append(
        (
            "negative: http_ece body whose data fills its records, empty final record dropped",
            neg_exact_multiple_without_final_record,
        )
    )
    for kind in ("nonzero-padding", "padding-past-record"):
        cases.append(
            (
                f"negative: record with {kind} (http_ece refuses it too)",
                lambda p, k=kind: neg_bad_padding(p, k),
            )
        )
    for what in ("no-salt", "short-salt", "two-salts", "rs-2", "no-dh", "dh-off-curve"):
        cases.append(
            (f"negative: headers {what}", lambda p, w=what: neg_bad_headers(p, w))
        )
    cases += [
        ("negative: our body, bit flipped, http_ece refuses", neg_ours_flipped_rejected_by_them),
        ("negative: aesgcm payload of 4079 octets refused", neg_payload_too_large),
    ]
    return cases


def refuse_peer_without_aesgcm(peer):
    probe = peer.call(op="aesgcm_decrypt")
    if "without feature aesgcm" in probe.get("error", ""):
        raise SetupError(probe["error"])


def main():
    return run(
        build_cases,
        ("http_ece", "cryptography"),
        REQUEST_TIMEOUT,
        preflight=refuse_peer_without_aesgcm,
    )


if __name__ == "__main__":
    sys.exit(main())
