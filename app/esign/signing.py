"""PAdES signatures with pyHanko: the agency signs a PDF; anyone can have a PDF checked.

The signature carries the signer's name (the person who signed: the leader of the signing step,
or the leader who issued form 03/04/05) and, in its reason, the signature block ("KT. GIÁM ĐỐC –
PHÓ GIÁM ĐỐC") and the dossier code, so a verification can say for which dossier and by whom
without reading anything outside the file. The key is the agency's (PKCS#12 in the settings).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from app.errors import Invalid
from app.settings import Settings

REASON_PREFIX = "motcua"
DOSSIER_IN_REASON = re.compile(r"Hồ sơ ([0-9A-Za-z.\-]{5,64})")


class SigningUnavailable(Exception):
    """No certificate configured: nothing is signed electronically."""


@dataclass(frozen=True)
class Verification:
    signed: bool  # the file carries a signature at all
    intact: bool  # the signed bytes are unchanged
    trusted: bool  # the certificate chains to the configured CA
    covers_whole_file: bool  # nothing was added after signing
    signer_name: str | None
    signer_title: str | None
    certificate_subject: str | None
    signed_at: datetime | None  # the time the signer's software wrote (not a trusted timestamp)
    dossier_code: str | None
    kind_label: str | None

    @property
    def valid(self) -> bool:
        return self.signed and self.intact and self.trusted and self.covers_whole_file


@lru_cache(maxsize=4)
def _load(path: str, mtime: float, password: str | None):  # noqa: ANN202
    from pyhanko.sign import signers
    data = Path(path).read_bytes()
    signer = signers.SimpleSigner.load_pkcs12_data(data, other_certs=[],
                                                   passphrase=password.encode() if password else None)
    if signer is None:
        raise SigningUnavailable("PKCS#12 không đọc được (sai mật khẩu?)")
    return signer


@dataclass(frozen=True)
class SigningConfig:
    pkcs12: Path
    password: str | None
    trust_roots: Path | None


def config_of(settings: Settings) -> SigningConfig | None:
    """The configured certificate; in dev without one, the demo certificate `seed-demo` wrote."""
    if settings.signing_pkcs12 is not None:
        password = settings.signing_pkcs12_password.get_secret_value() if settings.signing_pkcs12_password else None
        return SigningConfig(settings.signing_pkcs12, password, settings.signing_trust_roots)
    demo = settings.demo_pki_dir
    if settings.env == "dev" and (demo / "agency-demo.p12").is_file() and (demo / "agency-demo.password").is_file():
        return SigningConfig(demo / "agency-demo.p12", (demo / "agency-demo.password").read_text().strip(),
                             demo / "demo-ca.pem")
    return None


def signer_of(settings: Settings):  # noqa: ANN201
    config = config_of(settings)
    if config is None:
        raise SigningUnavailable("MOTCUA_SIGNING_PKCS12 chưa được cấu hình")
    return _load(str(config.pkcs12), config.pkcs12.stat().st_mtime, config.password)


def signing_enabled(settings: Settings) -> bool:
    return config_of(settings) is not None


def sign_pdf(pdf: bytes, settings: Settings, *, signer_name: str, signer_title: str, dossier_code: str,
             kind_label: str, location: str | None) -> bytes:
    """The PDF with one PAdES B-B signature of the agency (an approval signature; the document
    stays open to form filling only, nothing else)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    reason = f"{REASON_PREFIX}: {kind_label} – Hồ sơ {dossier_code} – {signer_title}"
    meta = signers.PdfSignatureMetadata(
        field_name="ChuKyCoQuan", md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES,
        name=signer_name, reason=reason, location=location)
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    out = signers.PdfSigner(meta, signer=signer_of(settings)).sign_pdf(writer)
    return out.getvalue()


@lru_cache(maxsize=4)
def _roots(pem_path: str | None, p12_path: str | None, p12_mtime: float, password: str | None) -> tuple:
    from asn1crypto import pem, x509 as asn1_x509
    roots = []
    if pem_path:
        for _, _, der in pem.unarmor(Path(pem_path).read_bytes(), multiple=True):
            roots.append(asn1_x509.Certificate.load(der))
    elif p12_path:
        signer = _load(p12_path, p12_mtime, password)
        roots = [c for c in signer.cert_registry if c.self_signed in ("maybe", "yes")]
    return tuple(roots)


def trust_roots(settings: Settings) -> tuple:
    config = config_of(settings)
    pem = config.trust_roots if config else settings.signing_trust_roots
    if config is None and pem is None:
        return ()
    return _roots(str(pem) if pem else None, str(config.pkcs12) if config else None,
                  config.pkcs12.stat().st_mtime if config else 0.0, config.password if config else None)


NOT_A_PDF = "Tệp không phải là tệp PDF hợp lệ."


def verify_pdf(data: bytes, settings: Settings) -> Verification:
    """Check the last signature of a PDF: intact (the signed bytes unchanged), trusted (chains to
    the configured CA), whole-file coverage (nothing appended). Garbage raises `Invalid` (422)."""
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    if not data.lstrip()[:5].startswith(b"%PDF-"):
        raise Invalid(NOT_A_PDF, code="not_a_pdf")
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        signatures = reader.embedded_signatures
    except Exception as exc:  # noqa: BLE001 - pyHanko raises many kinds on a broken file
        raise Invalid(NOT_A_PDF, code="not_a_pdf", detail={"reason": type(exc).__name__}) from exc
    if not signatures:
        return Verification(False, False, False, False, None, None, None, None, None, None)
    embedded = signatures[-1]
    try:
        sig_object = embedded.sig_object
        reason = str(sig_object.get("/Reason", "")) or None
        name = str(sig_object.get("/Name", "")) or None
    except (PdfError, KeyError, TypeError, ValueError):
        reason = name = None
    roots = list(trust_roots(settings))
    context = ValidationContext(trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail")
    try:
        status = validate_pdf_signature(embedded, context, skip_diff=True)
        intact, trusted = bool(status.intact), bool(status.intact and status.valid and status.trusted)
        whole = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
        subject = status.signing_cert.subject.human_friendly if status.signing_cert is not None else None
        signed_at = status.signer_reported_dt
    except Exception:  # noqa: BLE001 - a mangled signature is a changed file, never a 500
        intact = trusted = whole = False
        subject = None
        signed_at = None
    code = kind_label = title = None
    if reason and reason.startswith(REASON_PREFIX + ":"):
        parts = [p.strip() for p in reason[len(REASON_PREFIX) + 1:].split(" – ")]
        kind_label = parts[0] if parts else None
        match = DOSSIER_IN_REASON.search(reason)
        code = match.group(1) if match else None
        title = " – ".join(parts[2:]) or None
    return Verification(True, intact, trusted, whole, name, title, subject, signed_at, code, kind_label)
