"""A demo public-key infrastructure for `motcua seed-demo`: a CA and the agency's signing
certificate, both labelled DEMO in their subjects, written under `var/pki/`.

A real deployment uses the agency's certificate from a licensed Vietnamese CA (e.g. the
Government CA, Ban Cơ yếu Chính phủ) as a PKCS#12 file: MOTCUA_SIGNING_PKCS12 and its password.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEMO_LABEL = "DEMO - không có giá trị pháp lý"


@dataclass(frozen=True)
class DemoPki:
    ca_pem: Path
    pkcs12: Path
    password: str


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization[:64]),
                      x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, DEMO_LABEL),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])


def make_demo_certificates(agency_name: str, *, key_bits: int = 2048,
                           not_before: datetime | None = None) -> tuple[bytes, bytes, str]:
    """(CA certificate PEM, the agency's PKCS#12 with its key and the CA, its password)."""
    start = not_before or datetime(2020, 1, 1, tzinfo=UTC)
    end = start + timedelta(days=365 * 30)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=key_bits)
    ca_name = _name("MOTCUA DEMO CA", "motcua DEMO")
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_bits)
    subject = _name(f"{agency_name} (DEMO)", agency_name)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    password = secrets.token_urlsafe(18)
    p12 = pkcs12.serialize_key_and_certificates(
        b"motcua-demo", key, cert, [ca], serialization.BestAvailableEncryption(password.encode()))
    return ca.public_bytes(serialization.Encoding.PEM), p12, password


def write_demo_pki(directory: Path, agency_name: str) -> DemoPki:
    """Write (or keep, when already there) the demo CA and agency certificate under `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_path, p12_path, password_path = directory / "demo-ca.pem", directory / "agency-demo.p12", \
        directory / "agency-demo.password"
    if not (ca_path.exists() and p12_path.exists() and password_path.exists()):
        ca_pem, p12, password = make_demo_certificates(agency_name)
        ca_path.write_bytes(ca_pem)
        p12_path.write_bytes(p12)
        password_path.write_text(password + "\n")
        for path in (p12_path, password_path):
            path.chmod(0o600)
    return DemoPki(ca_path, p12_path, password_path.read_text().strip())
