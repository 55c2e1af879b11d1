"""Per-message encryption cost of pywebpush (OpenSSL via `cryptography`), for
comparison with `cargo bench --bench encrypt`: one `aes128gcm` body per call
(fresh ephemeral key and salt), no VAPID, no sending.

    python3 -m venv /tmp/peers && /tmp/peers/bin/pip install pywebpush==2.5.0
    /tmp/peers/bin/python benches/peers/pywebpush_encrypt.py
"""

import base64
import os
import statistics
import time

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pywebpush import WebPusher


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main() -> None:
    ua = ec.generate_private_key(ec.SECP256R1())
    p256dh = ua.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    sub = {
        "endpoint": "https://127.0.0.1/push/x",
        "keys": {"p256dh": b64(p256dh), "auth": b64(os.urandom(16))},
    }
    pusher = WebPusher(sub)
    for size in (32, 1024, 3993):
        data = b"B" * size
        for _ in range(200):  # warm up
            pusher.encode(data, content_encoding="aes128gcm")
        samples = []
        for _ in range(15):
            n = 500
            start = time.perf_counter()
            for _ in range(n):
                pusher.encode(data, content_encoding="aes128gcm")
            samples.append((time.perf_counter() - start) / n * 1e6)
        print(f"pywebpush 2.5 aes128gcm {size:>4} B: median {statistics.median(samples):.1f} us/message")


if __name__ == "__main__":
    main()
