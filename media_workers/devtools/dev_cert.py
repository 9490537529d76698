"""A local CA and an HTTPS certificate for this machine (`python manage.py make_dev_cert`).

Phones give a page its microphone only over HTTPS. Trust the CA once on the phone (README:
"HTTPS for phones on the LAN") and every later server certificate it signs is trusted too.
The CA is kept between runs; the server certificate is made again each run, for the
current LAN address. The CA may sign only local names and private addresses (name
constraints), so its key cannot vouch for any public site.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Apple platforms refuse server certificates valid for longer than 398 days.
SERVER_DAYS = 397
CA_DAYS = 3650
PERMITTED_NAMES = ["localhost", "local", "lan", "home.arpa", "internal"]
PERMITTED_NETWORKS = [
    "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16",
    "100.64.0.0/10", "::1/128", "fc00::/7", "fe80::/10",
]  # fmt: skip


CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    key_cert_sign=True,
    crl_sign=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    encipher_only=False,
    decipher_only=False,
)


def lan_address() -> str | None:
    """The address this machine uses to reach other hosts (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))
        except OSError:
            return None
        address = str(sock.getsockname()[0])
    return None if address.startswith("127.") else address


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    path.write_bytes(data)
    if private:
        path.chmod(0o600)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def permits(constraints: x509.NameConstraints, host: str) -> bool:
    """Whether a CA with these name constraints may sign a certificate for `host`."""
    subtrees = constraints.permitted_subtrees or []
    name = _general_name(host)
    if isinstance(name, x509.IPAddress):
        return any(isinstance(s, x509.IPAddress) and name.value in s.value for s in subtrees)  # type: ignore[operator]
    return any(
        isinstance(s, x509.DNSName) and (host == s.value or host.endswith("." + s.value)) for s in subtrees
    )


def make_ca(directory: Path, hosts: list[str]) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey, bool]:
    """Load the CA from `directory`, or create it there (also when it may not sign for `hosts`).

    Returns the certificate, its key and whether it is new (phones must trust it again).
    """
    cert_path, key_path = directory / "ca.pem", directory / "ca-key.pem"
    if cert_path.exists() and key_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        constraints = cert.extensions.get_extension_for_class(x509.NameConstraints).value
        if isinstance(key, ec.EllipticCurvePrivateKey) and all(permits(constraints, h) for h in hosts):
            return cert, key, False
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, f"openai-translate dev CA ({socket.gethostname()})")]
    )
    now = datetime.datetime.now(datetime.UTC)
    # Local names and private networks, plus any other host asked for (a LAN on public addresses).
    permitted: list[x509.GeneralName] = [x509.DNSName(n) for n in PERMITTED_NAMES]
    permitted += [x509.IPAddress(ipaddress.ip_network(n)) for n in PERMITTED_NETWORKS]
    constraints = x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=None)
    for host in hosts:
        if not permits(constraints, host):
            general = _general_name(host)
            if isinstance(general, x509.IPAddress):
                general = x509.IPAddress(ipaddress.ip_network(general.value))
            permitted.append(general)
    constraints = x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=None)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(CA_KEY_USAGE, critical=True)
        .add_extension(constraints, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write(key_path, _key_pem(key), private=True)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return cert, key, True


def make_server_cert(directory: Path, hosts: list[str]) -> bool:
    """A server certificate for `hosts`, signed by the CA, in server.pem / server-key.pem.

    Returns whether the CA is new.
    """
    ca_cert, ca_key, new_ca = make_ca(directory, hosts)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName([_general_name(h) for h in hosts]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write(directory / "server-key.pem", _key_pem(key), private=True)
    _write(directory / "server.pem", cert.public_bytes(serialization.Encoding.PEM))
    return new_ca
