"""HTTPS for ``regd serve``: the server's TLS context, its reload, and development certificates.

The context is TLS 1.2 or newer with Python's default (modern) ciphers and ALPN
``http/1.1``. A reload loads the new files into a scratch context first, so a bad pair
leaves the served one untouched; handshakes after it use the new pair, connections open
before it carry on.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from regd.errors import StartupError


def _load(context: ssl.SSLContext, cert: str, key: str) -> None:
    for setting, path in (("tls_cert", cert), ("tls_key", key)):
        try:
            Path(path).read_bytes()
        except OSError as error:
            raise StartupError(
                f"{setting}: cannot read {path}: {error.strerror} "
                f"(--{setting.replace('_', '-')}, REGD_{setting.upper()})"
            ) from None
    try:
        context.load_cert_chain(cert, key)
    except ssl.SSLError as error:
        reason = error.reason or str(error)
        if "KEY_VALUES_MISMATCH" in str(error):
            reason = "the key does not belong to the certificate"
        raise StartupError(
            f"tls_cert/tls_key: {cert} and {key} are not a usable PEM certificate and key: {reason}"
        ) from None


def server_context(cert: str, key: str) -> ssl.SSLContext:
    """The TLS context of ``regd serve --tls-cert CERT --tls-key KEY``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    _load(context, cert, key)
    return context


def reload(context: ssl.SSLContext, cert: str, key: str) -> None:
    """Load ``cert``/``key`` into the live ``context``, checked first in a scratch one."""
    _load(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), cert, key)
    _load(context, cert, key)


@dataclass(frozen=True, slots=True)
class DevCertificate:
    cert: Path
    key: Path
    ca: Path


def self_signed(directory: Path, hosts: list[str], days: int = 825) -> DevCertificate:
    """A CA and a server certificate for ``hosts`` signed by it, written to ``directory``.

    ``ca.crt`` is what clients trust; ``server.crt``/``server.key`` are what regd serves.
    The CA's key is not kept: nothing else can be signed with it.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, f"regd development CA ({hosts[0]})")]
    )
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    written = DevCertificate(
        directory / "server.crt", directory / "server.key", directory / "ca.crt"
    )
    pem = serialization.Encoding.PEM
    written.ca.write_bytes(ca.public_bytes(pem))
    written.cert.write_bytes(cert.public_bytes(pem))
    written.key.touch(mode=0o600)
    written.key.chmod(0o600)
    written.key.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return written
