"""Documents: upload (type checked from the content, size limit), encrypted storage, and download
that refuses a file whose bytes no longer match the SHA-256 recorded at upload."""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter

from django.conf import settings
from django.db import transaction

from carehub.accounts.choices import Role
from carehub.audit import services as audit
from carehub.audit.choices import AccessCategory, Priority
from carehub.core import crypto
from carehub.core.exceptions import Forbidden, NotFound, ServiceError, ValidationFailed
from carehub.patients import selectors as patients
from carehub.records.choices import EntryStatus
from carehub.records.models import Document
from carehub.records.policies import WRITE_ROLES

PURPOSE = "records.document.blob"
# What a file is, from its first bytes (never from its name or the browser's claim).
SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


class DocumentTampered(ServiceError):
    """The stored file does not match what was uploaded: it is reported, never served."""

    status = 409
    title = "Document integrity check failed"


def sniff(data: bytes) -> str | None:
    return next((kind for magic, kind in SIGNATURES if data.startswith(magic)), None)


@transaction.atomic
def document_upload(
    *, actor, patient_public_id: uuid.UUID | str, filename: str, data: bytes, title: str = ""
) -> Document:
    """Store a PDF, JPEG or PNG for a patient: clinicians in their care, or the patient."""
    if actor.role not in WRITE_ROLES | {Role.PATIENT}:
        raise Forbidden("Only the patient and their clinicians add documents.")
    patient = patients.patient_ref_get(
        actor=actor, public_id=patient_public_id, action="view_clinical"
    )
    if not data:
        raise ValidationFailed("The file is empty.", field_errors={"file": ["Empty file."]})
    limit = settings.RECORDS_MAX_UPLOAD_BYTES
    if len(data) > limit:
        raise ValidationFailed(
            f"The file is larger than {limit // (1024 * 1024)} MB.",
            field_errors={"file": ["Too large."]},
        )
    content_type = sniff(data)
    if content_type is None:
        raise ValidationFailed(
            "Only PDF, JPEG and PNG files can be added (this file is none of them, whatever "
            "its name says).",
            field_errors={"file": ["Not a PDF, JPEG or PNG file."]},
        )
    return Document.objects.create(
        patient=patient,
        recorded_by=actor,
        title=(title or filename).strip()[:200] or "Document",
        filename=filename.strip()[:255],
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        blob=crypto.encrypt_bytes(data, purpose=PURPOSE),
    )


def document_download(
    *, actor, public_id: uuid.UUID | str, view: str = ""
) -> tuple[Document, bytes]:
    """The document and its bytes, after checking them against the recorded SHA-256. A
    mismatch (or a ciphertext that no longer decrypts) is recorded and refused."""
    try:
        document = (
            Document.objects.restrict(actor, "view")
            .select_related("patient")
            .get(public_id=uuid.UUID(str(public_id)), status=EntryStatus.CURRENT)
        )
    except (ValueError, Document.DoesNotExist) as exc:
        raise NotFound("No such document.") from exc
    try:
        data = crypto.decrypt_bytes(bytes(document.blob), purpose=PURPOSE)
    except crypto.DecryptionError:
        data = None
    if data is None or hashlib.sha256(data).hexdigest() != document.sha256:
        audit.event_record(
            actor=actor,
            name="document.integrity_failed",
            patient_id=document.patient.public_id,
            obj=document,
            priority=Priority.HIGH,
        )
        raise DocumentTampered(
            "This document failed its integrity check and was not opened. The problem has been "
            "recorded; please tell the clinic."
        )
    patients.log_access(
        actor=actor, patients=[document.patient], category=AccessCategory.DOCUMENTS, view=view
    )
    return document, data


def _key_usage() -> Counter[str]:
    usage: Counter[str] = Counter()
    for blob in Document.objects.values_list("blob", flat=True).iterator():
        usage[crypto.key_id_of(bytes(blob))] += 1
    return usage


def _reencrypt(batch_size: int) -> int:
    active = crypto.keyring().active
    done = 0
    for pk, blob in Document.objects.values_list("pk", "blob").iterator(chunk_size=batch_size):
        blob = bytes(blob)
        if crypto.key_id_of(blob) == active:
            continue
        plain = crypto.decrypt_bytes(blob, purpose=PURPOSE)
        Document.objects.filter(pk=pk).update(blob=crypto.encrypt_bytes(plain, purpose=PURPOSE))
        done += 1
    return done


HOLDER = crypto.CiphertextHolder("records.document.blob", _key_usage, _reencrypt)
