"""Documents: type from content, size and emptiness checks, encrypted at rest, SHA-256 checked on
download with tampering detected and reported, and who may add or open them."""

from __future__ import annotations

import pytest
from django.db import connection

from carehub.accounts.choices import Role
from carehub.accounts.tests.factories import make_user
from carehub.audit.models import AccessRecord, Event
from carehub.core import crypto
from carehub.core.exceptions import Forbidden, NotFound, ValidationFailed
from carehub.directory.tests.factories import make_practitioner
from carehub.patients.tests.factories import PatientFactory
from carehub.records import documents
from carehub.records.models import Document

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\nLab result: potassium 6.1 mmol/L\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def upload(actor, patient, data=PDF, filename="lab.pdf"):
    return documents.document_upload(
        actor=actor, patient_public_id=patient.public_id, filename=filename, data=data
    )


def test_a_clinician_uploads_and_the_patient_downloads_the_same_bytes(doctor, patient):
    document = upload(doctor.user, patient)
    assert document.content_type == "application/pdf" and document.size == len(PDF)
    opened, data = documents.document_download(actor=patient.user, public_id=document.public_id)
    assert data == PDF and opened == document
    assert AccessRecord.objects.filter(
        actor_id=patient.user.public_id, category="documents"
    ).exists()


def test_the_type_comes_from_the_content_not_the_name(doctor, patient):
    assert upload(doctor.user, patient, PNG, "scan.pdf").content_type == "image/png"
    with pytest.raises(ValidationFailed) as refused:
        upload(doctor.user, patient, b"MZ\x90\x00 this is a program", "results.pdf")
    assert "file" in refused.value.field_errors
    assert Document.objects.count() == 1


def test_empty_and_oversized_files_are_refused(doctor, patient, settings):
    with pytest.raises(ValidationFailed, match="empty"):
        upload(doctor.user, patient, b"")
    settings.RECORDS_MAX_UPLOAD_BYTES = 1024
    with pytest.raises(ValidationFailed, match="larger"):
        upload(doctor.user, patient, PDF + b"0" * 2048)
    assert not Document.objects.exists()


def test_stored_bytes_are_not_the_plaintext(doctor, patient):
    upload(doctor.user, patient, filename="hiv-test.pdf")
    with connection.cursor() as cursor:
        cursor.execute("SELECT blob, filename FROM records_document")
        blob, filename = cursor.fetchone()
    assert b"potassium" not in bytes(blob)
    assert "hiv" not in filename


def test_a_tampered_document_is_reported_and_not_served(doctor, patient):
    document = upload(doctor.user, patient)
    # Someone with database access swaps in another (validly encrypted) file.
    forged = crypto.encrypt_bytes(PDF.replace(b"6.1", b"4.1"), purpose=documents.PURPOSE)
    Document.objects.filter(pk=document.pk).update(blob=forged)
    with pytest.raises(documents.DocumentTampered):
        documents.document_download(actor=doctor.user, public_id=document.public_id)
    # ...or flips bytes of the ciphertext itself.
    blob = bytearray(crypto.encrypt_bytes(PDF, purpose=documents.PURPOSE))
    blob[-1] ^= 1
    Document.objects.filter(pk=document.pk).update(blob=bytes(blob))
    with pytest.raises(documents.DocumentTampered):
        documents.document_download(actor=doctor.user, public_id=document.public_id)
    assert Event.objects.filter(name="document.integrity_failed").count() == 2
    assert not AccessRecord.objects.filter(category="documents").exists()


def test_who_may_add_and_open_documents(doctor, patient):
    document = upload(patient.user, patient, PNG, "rash.png")  # the patient adds their own
    with pytest.raises(NotFound):
        upload(patient.user, PatientFactory.create())
    stranger = make_practitioner()
    with pytest.raises(NotFound):
        documents.document_download(actor=stranger.user, public_id=document.public_id)
    receptionist = make_user(Role.RECEPTIONIST)
    with pytest.raises(Forbidden):
        upload(receptionist, patient)
    with pytest.raises(NotFound):
        documents.document_download(actor=receptionist, public_id=document.public_id)


def test_key_rotation_reencrypts_documents(doctor, patient, settings, tmp_path, monkeypatch):
    # This test's own key file, so the session's keys are never rotated.
    monkeypatch.delenv(crypto.ENV_VAR, raising=False)
    settings.CAREHUB_KEY_FILE = tmp_path / "keys.json"
    crypto.write_keyring(crypto.generate_keyring())
    crypto.keyring.cache_clear()
    try:
        document = upload(doctor.user, patient)
        old = crypto.key_id_of(bytes(Document.objects.get(pk=document.pk).blob))
        assert documents.HOLDER.reencrypt(100) == 0  # already under the active key
        crypto.write_keyring(crypto.keyring().with_new_active_key())
        crypto.keyring.cache_clear()
        assert documents.HOLDER.reencrypt(100) == 1
        usage = documents.HOLDER.key_usage()
        assert usage[old] == 0 and usage[crypto.keyring().active] == 1
        _, data = documents.document_download(actor=doctor.user, public_id=document.public_id)
        assert data == PDF  # still opens, and still matches its SHA-256
    finally:
        crypto.keyring.cache_clear()
