#!/usr/bin/env python3
"""Record raw AMI traffic from the local Asterisk into a file, for replay tests and benchmarks.

Usage: .venv/bin/python scripts/record_ami.py OUT.ami [--seconds N] [-c config.yaml]
Logs in with the CTI server's AMI user and writes every byte Asterisk sends (after the login reply) until
N seconds pass or it is interrupted. The secret is not written to the file.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ari_app.config import load_config


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("-c", "--config", default="config.yaml")
    args = ap.parse_args()
    ami = load_config(args.config).asterisk.ami
    secret = ami.secret.value() if ami.secret else ""
    deadline = time.monotonic() + args.seconds
    with socket.create_connection((ami.host, ami.port)) as sock, open(args.out, "wb") as out:
        sock.sendall(f"Action: Login\r\nUsername: {ami.username}\r\nSecret: {secret}\r\n\r\n".encode())
        buf = b""
        while b"\r\n\r\n" not in buf.split(b"Response:", 1)[-1]:
            buf += sock.recv(4096)
        banner, _, rest = buf.partition(b"\r\n")
        out.write(banner + b"\r\n")
        _login, _, rest = rest.partition(b"\r\n\r\n")
        out.write(rest)
        sock.settimeout(0.5)
        try:
            while time.monotonic() < deadline:
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    break
                out.write(data)
                out.flush()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
