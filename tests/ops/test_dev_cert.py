"""make_dev_cert: a local CA and a server certificate that daphne serves HTTPS with."""

from __future__ import annotations

import ipaddress
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

from cryptography import x509
from django.core.management import call_command

from media_workers.devtools.stack import ROOT, free_port, wait_until


def make_cert(directory: Path, *hosts: str) -> None:
    args = ["make_dev_cert", "--dir", str(directory)]
    for host in hosts:
        args += ["--host", host]
    call_command(*args)


def test_it_makes_a_certificate_for_localhost_and_the_given_hosts(tmp_path: Path) -> None:
    make_cert(tmp_path, "192.168.1.20", "laptop.local")
    cert = x509.load_pem_x509_certificate((tmp_path / "server.pem").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"localhost", "laptop.local"} <= set(names.get_values_for_type(x509.DNSName))
    addresses = set(names.get_values_for_type(x509.IPAddress))
    assert {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("192.168.1.20")} <= addresses
    assert (tmp_path / "server-key.pem").stat().st_mode & 0o077 == 0
    assert (tmp_path / "ca-key.pem").stat().st_mode & 0o077 == 0


def test_it_keeps_the_ca_the_phone_already_trusts(tmp_path: Path) -> None:
    make_cert(tmp_path)
    ca = (tmp_path / "ca.pem").read_bytes()
    make_cert(tmp_path, "10.0.0.7")
    assert (tmp_path / "ca.pem").read_bytes() == ca


def test_it_serves_https_through_daphne_with_the_certificate(tmp_path: Path) -> None:
    make_cert(tmp_path)
    port = free_port()
    endpoint = (
        f"ssl:{port}:interface=127.0.0.1:privateKey={tmp_path}/server-key.pem:certKey={tmp_path}/server.pem"
    )
    daphne = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-e", endpoint, "translator_site.asgi:application"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    context = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
    try:

        def answers() -> bool:
            with urllib.request.urlopen(f"https://localhost:{port}/healthz", context=context, timeout=2) as r:
                return bool(r.status == 200)

        wait_until(answers, 30, "daphne over HTTPS")
        with urllib.request.urlopen(
            f"https://127.0.0.1:{port}/healthz", context=context, timeout=5
        ) as response:
            assert response.read() == b'{"status": "ok"}'
    finally:
        daphne.terminate()
        daphne.wait(timeout=20)
