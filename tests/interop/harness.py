"""Shared harness of the interoperability checks in tests/interop/.

Not run by itself: `interop_http_ece.py`, `interop_vapid.py` and
`interop_aesgcm.py` import it (each script's own directory is on `sys.path`).

It holds what the three have in common: base64url and P-256 key helpers,
`Peer` (spawns `examples/interop_peer.rs` once and talks to it in JSON, one
request and one response per line), the `check` assertions, and `run`, which
executes a list of `(name, function)` cases. Each case prints one `PASS` or
`FAIL` line; the last line is exactly `N passed, M failed`. Exit status: 0
when every case passed, 1 when a case failed, 2 when setup failed (import,
spawn, peer crash or timeout). Nothing is ever skipped.
"""

import base64
import json
import re
import subprocess
import sys
import threading
import traceback

try:
    import importlib.metadata as metadata

    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        PublicFormat,
    )
except Exception as _exc:  # never skip silently
    print(f"SETUP ERROR: cannot import cryptography: {_exc!r}", file=sys.stderr)
    print("install it with: pip install -r tests/interop/requirements.txt", file=sys.stderr)
    sys.exit(2)


def import_failed(what, exc):
    """Aborts the run (exit status 2) when a script's own imports fail."""
    print(f"SETUP ERROR: cannot import {what}: {exc!r}", file=sys.stderr)
    print("install them with: pip install -r tests/interop/requirements.txt", file=sys.stderr)
    sys.exit(2)


class SetupError(Exception):
    """The peer cannot be used at all: abort the run."""


# ---- encoding and keys ---------------------------------------------------


def b64e(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64d_strict(text):
    """Like `b64d`, but fails the case unless `text` is unpadded base64url."""
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise AssertionError(f"not unpadded base64url: {text[:60]!r}")
    return b64d(text)


def new_key():
    return ec.generate_private_key(ec.SECP256R1())


def public_bytes(key):
    """The uncompressed point (65 octets)."""
    return key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def private_bytes(key):
    """The private scalar (32 octets, big-endian)."""
    return key.private_numbers().private_value.to_bytes(32, "big")


def flip_bit(body, index, bit=0):
    out = bytearray(body)
    out[index] ^= 1 << bit
    return bytes(out)


# ---- the peer ------------------------------------------------------------


class Peer:
    """`examples/interop_peer.rs`, spawned once; `timeout` is per request."""

    def __init__(self, path, timeout):
        self.timeout = timeout
        try:
            self.proc = subprocess.Popen(
                [path],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=sys.stderr,
                text=True,
                encoding="utf-8",
                bufsize=1,
            )
        except OSError as exc:
            raise SetupError(f"cannot spawn peer {path!r}: {exc}") from exc

    def call(self, **request):
        """Sends one request, returns the reply object (which may be an error)."""
        line = json.dumps(request)
        timer = threading.Timer(self.timeout, self.proc.kill)
        timer.start()
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
            reply = self.proc.stdout.readline()
        except (BrokenPipeError, OSError) as exc:
            raise SetupError(f"peer pipe failed: {exc}") from exc
        finally:
            timer.cancel()
        if not reply:
            raise SetupError(
                f"peer exited or timed out (status {self.proc.poll()}) on op {request['op']}"
            )
        return json.loads(reply)

    def ok(self, **request):
        """Calls the peer and returns the reply object, or fails."""
        reply = self.call(**request)
        if "error" in reply:
            raise AssertionError(f"peer error: {reply['error']}")
        return reply

    def ok_bytes(self, field, /, **request):
        """Calls the peer and returns its base64url field `field` decoded, or fails."""
        return b64d(self.ok(**request)[field])

    def expect_error(self, **request):
        """Calls the peer and returns its error message; fails if it succeeded."""
        reply = self.call(**request)
        if "error" not in reply:
            raise AssertionError(f"peer accepted it: {json.dumps(reply)[:200]}")
        return reply["error"]

    def close(self):
        """Ends the input; returns the peer's exit status (None if it hung)."""
        self.proc.stdin.close()
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return None
        finally:
            self.proc.stdout.close()


# ---- checks --------------------------------------------------------------


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def check_plaintext(got, want):
    if got != want:
        prefix = 0
        while prefix < min(len(got), len(want)) and got[prefix] == want[prefix]:
            prefix += 1
        raise AssertionError(
            f"plaintext mismatch: got {len(got)} octets, want {len(want)}, "
            f"first difference at {prefix}"
        )


# ---- running -------------------------------------------------------------


def run(build_cases, packages, timeout, expected=(AssertionError,), preflight=None):
    """The body of each script's `main()`; returns the exit status.

    `build_cases()` gives `(name, function)` pairs; a function takes the peer,
    raises on failure and may return a short note to print. `packages` are the
    distributions whose versions head the output. Exceptions of the `expected`
    types are reported in one line; any other also prints its traceback.
    `preflight(peer)`, if given, runs before the cases and raises `SetupError`
    when the peer cannot serve them. A last case checks that the peer exits
    with status 0 at end of input.
    """
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} PATH/TO/interop_peer", file=sys.stderr)
        return 2
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in packages)
    print(f"{versions}, peer {sys.argv[1]}")
    passed = failed = 0
    try:
        peer = Peer(sys.argv[1], timeout)
        if preflight is not None:
            preflight(peer)
        for name, case in build_cases():
            try:
                note = case(peer)
            except SetupError:
                raise
            except Exception as exc:  # a failed case, keep going
                failed += 1
                detail = str(exc) if isinstance(exc, AssertionError) else repr(exc)
                print(f"FAIL {name}: {detail[:300]}")
                if not isinstance(exc, expected):
                    traceback.print_exc()
            else:
                passed += 1
                print(f"PASS {name}" + (f" ({note})" if note else ""))
        status = peer.close()
        if status == 0:
            passed += 1
            print("PASS peer exits with status 0 at end of input")
        else:
            failed += 1
            print(f"FAIL peer exits with status 0 at end of input: status {status}")
    except SetupError as exc:
        failed += 1
        print(f"SETUP ERROR: {exc}")
        print(f"{passed} passed, {failed} failed")
        return 2
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0
