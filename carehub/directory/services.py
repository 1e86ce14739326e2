"""Writes to the directory: sites, departments and practitioners (onboarding with an invitation)."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

from carehub.accounts import services as accounts
from carehub.accounts.choices import Role
from carehub.audit import services as audit
from carehub.core import policies
from carehub.core.exceptions import Forbidden, ValidationFailed
from carehub.directory.models import Department, Practitioner, Site, Specialty, validate_timezone

logger = logging.getLogger(__name__)

PRACTITIONER_ROLES = (Role.DOCTOR, Role.NURSE)
PHOTO_MAX_BYTES = 2 * 1024 * 1024
PHOTO_EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif"}
SITE_FIELDS = ("code", "name", "timezone", "emergency_phone", "address", "phone")
# The code prefixes every medical record number of the site: it never changes, or a later site
# given the old code would produce record numbers that collide with existing ones.
SITE_EDITABLE_FIELDS = ("name", "timezone", "emergency_phone", "address", "phone")
# The site's booking rules (minutes or days, whole numbers): scheduling reads them.
SITE_BOOKING_FIELDS = (
    "booking_min_notice_minutes",
    "cancellation_cutoff_minutes",
    "booking_horizon_days",
)
PRACTITIONER_ADMIN_FIELDS = frozenset(
    {
        "first_name",
        "last_name",
        "title",
        "specialties",
        "sites",
        "languages",
        "bio",
        "photo",
        "registration_number",
    }
)
PRACTITIONER_SELF_FIELDS = frozenset({"bio", "languages", "photo"})
BIO_MAX_LENGTH = 2000
_PHONE = re.compile(r"^\+?[0-9][0-9 ()\-]{1,30}$")
_LANGUAGE = re.compile(r"^[a-z]{2}$")


def _require_admin(actor: Any, message: str) -> None:
    if (
        actor is None
        or not getattr(actor, "is_authenticated", False)
        or actor.role != Role.CLINIC_ADMIN
    ):
        raise Forbidden(message)


def _field_errors(exc: ValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {k: list(v) for k, v in exc.message_dict.items()}
    return {"__all__": list(exc.messages)}


# --- Sites ---------------------------------------------------------------------------------


def _site_errors(data: dict[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if "timezone" in data:
        try:
            validate_timezone(str(data["timezone"] or ""))
        except ValidationError as exc:
            errors["timezone"] = list(exc.messages)
    if "emergency_phone" in data and not _PHONE.match(str(data["emergency_phone"] or "").strip()):
        errors["emergency_phone"] = [
            "Enter the local emergency number, digits only (e.g. 999, 911, 112)."
        ]
    phone = str(data.get("phone") or "").strip()
    if phone and not _PHONE.match(phone):
        errors["phone"] = ["Enter a phone number: digits, spaces, +, - and brackets only."]
    return errors


def _site_save(site: Site, errors: dict[str, list[str]]) -> None:
    try:
        site.full_clean()
    except ValidationError as exc:
        for name, messages in _field_errors(exc).items():
            errors.setdefault(name, messages)
    if errors:
        raise ValidationFailed("Some details of the site are not valid.", field_errors=errors)
    site.save()


@transaction.atomic
def site_create(
    *,
    actor,
    code: str,
    name: str,
    timezone: str,
    emergency_phone: str,
    address: str = "",
    phone: str = "",
) -> Site:
    """Open a new site (clinic or hospital location)."""
    _require_admin(actor, "Only an administrator can add sites.")
    data = {
        "code": (code or "").strip().lower(),
        "name": (name or "").strip(),
        "timezone": (timezone or "").strip(),
        "emergency_phone": (emergency_phone or "").strip(),
        "address": (address or "").strip(),
        "phone": (phone or "").strip(),
    }
    site = Site(**data)
    _site_save(site, _site_errors(data))
    audit.event_record(actor=actor, name="site.created", obj=site, data={"code": site.code})
    return site


@transaction.atomic
def site_update(*, actor, site: Site, **fields: Any) -> Site:
    """Change a site's name, time zone or phone numbers (never its code)."""
    _require_admin(actor, "Only an administrator can change sites.")
    if not policies.can(actor, "change", site):
        raise Forbidden("You may not change this site.")
    refused = sorted(set(fields) - set(SITE_EDITABLE_FIELDS) - set(SITE_BOOKING_FIELDS))
    if refused:
        raise ValidationFailed(
            "These details cannot be changed: " + ", ".join(refused),
            field_errors={
                name: ["This cannot be changed after the site is created."] for name in refused
            },
        )
    data: dict[str, Any] = {
        k: (v or "").strip() for k, v in fields.items() if k in SITE_EDITABLE_FIELDS
    }
    # Booking rules left empty keep their value.
    data.update({k: v for k, v in fields.items() if k in SITE_BOOKING_FIELDS and v is not None})
    site = Site.objects.select_for_update().get(pk=site.pk)
    changed = sorted(k for k, v in data.items() if getattr(site, k) != v)
    for key, value in data.items():
        setattr(site, key, value)
    _site_save(site, _site_errors(data))
    if changed:
        audit.event_record(actor=actor, name="site.updated", obj=site, data={"fields": changed})
    return site


@transaction.atomic
def department_ensure(*, actor, site: Site, name: str) -> Department:
    """The department `name` of `site`, created if missing."""
    _require_admin(actor, "Only an administrator can add departments.")
    name = (name or "").strip()
    if not name:
        raise ValidationFailed(
            "Name the department.", field_errors={"name": ["This field is required."]}
        )
    department, created = Department.objects.get_or_create(site=site, name=name)
    if created:
        audit.event_record(
            actor=actor, name="department.created", obj=department, data={"site": site.code}
        )
    return department


# --- Specialties ---------------------------------------------------------------------------

SPECIALTIES_FILE = Path(__file__).resolve().parent / "data" / "specialties.json"


@transaction.atomic
def specialties_sync() -> int:
    """Make the Specialty table match the shared vocabulary file (add new codes, update labels;
    never delete, since practitioners may point at a code). Migration 0002 does the same on
    install; commands call this after a database flush. Returns how many rows changed."""
    changed = 0
    for item in json.loads(SPECIALTIES_FILE.read_text(encoding="utf-8")):
        specialty, created = Specialty.objects.get_or_create(
            code=item["code"], defaults={"label": item["label"]}
        )
        if created:
            changed += 1
        elif specialty.label != item["label"]:
            specialty.label = item["label"]
            specialty.save(update_fields=["label"])
            changed += 1
    return changed


# --- Practitioners -------------------------------------------------------------------------


def _languages(value: Iterable[str] | str | None, errors: dict[str, list[str]]) -> list[str]:
    """ISO 639-1 codes, lower-case, in the order given, without repeats."""
    if isinstance(value, str):
        value = re.split(r"[\s,;]+", value)
    codes = list(dict.fromkeys(str(v).strip().lower() for v in (value or ()) if str(v).strip()))
    bad = [c for c in codes if not _LANGUAGE.match(c)]
    if bad:
        errors["languages"] = [
            "Use two-letter language codes separated by commas (e.g. en, fr, es); not valid: "
            + ", ".join(bad)
        ]
    return codes


def _photo(photo: Any, errors: dict[str, list[str]]) -> Any:
    """A real JPEG/PNG/WebP/GIF image of at most 2 MB, renamed so upload names never leak."""
    if getattr(photo, "size", 0) > PHOTO_MAX_BYTES:
        errors["photo"] = ["The photo must be 2 MB or smaller."]
        return None
    try:
        checked = forms.ImageField().clean(photo)  # opens and verifies it with Pillow
    except ValidationError as exc:
        errors["photo"] = list(exc.messages)
        return None
    image = getattr(checked, "image", None)
    extension = PHOTO_EXTENSIONS.get(getattr(image, "format", None) or "")
    if extension is None:
        errors["photo"] = ["Use a JPEG, PNG, WebP or GIF image."]
        return None
    if hasattr(photo, "seek"):
        photo.seek(0)
    photo.name = f"{uuid.uuid4().hex}{extension}"
    return photo


def _practitioner_errors(
    *, role: str | None, specialties: list | None, sites: list | None, bio: str | None
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if sites is not None and not sites:
        errors["sites"] = ["Choose at least one site."]
    if specialties is not None and not specialties and role == Role.DOCTOR:
        errors["specialties"] = ["Choose at least one specialty for a doctor."]
    if bio is not None and len(bio) > BIO_MAX_LENGTH:
        errors["bio"] = [f"Keep the biography to {BIO_MAX_LENGTH} characters."]
    return errors


@transaction.atomic
def practitioner_onboard(
    *,
    actor,
    email: str,
    first_name: str,
    last_name: str,
    title: str = "",
    role: str,
    specialties: Iterable,
    sites: Iterable[Site],
    languages: Iterable[str] | str = (),
    bio: str = "",
    photo: Any = None,
    registration_number: str = "",
    base_url: str = "",
    invite: bool = True,
) -> Practitioner:
    """Create a clinician's account and profile in one step and email them an invitation to
    set a password (sent only once the transaction commits; `invite=False` is for demo data,
    whose passwords are set by the seeding command)."""
    _require_admin(actor, "Only an administrator can onboard clinicians.")
    specialties, sites, bio = list(specialties or ()), list(sites or ()), (bio or "").strip()
    errors = _practitioner_errors(role=role, specialties=specialties, sites=sites, bio=bio)
    if role not in PRACTITIONER_ROLES:
        errors["role"] = ["Choose doctor or nurse."]
    codes = _languages(languages, errors)
    if photo:
        photo = _photo(photo, errors)
    user = None
    try:
        user = accounts.user_invite(
            actor=actor,
            email=email,
            first_name=first_name,
            last_name=last_name,
            role=role if role in PRACTITIONER_ROLES else Role.DOCTOR,
        )
    except ValidationFailed as exc:
        errors = {**exc.field_errors, **errors}
    if errors or user is None:
        # Raising rolls back the account too: nothing is half-created.
        raise ValidationFailed("Some details are not valid.", field_errors=errors)
    practitioner = Practitioner(
        user=user,
        title=(title or "").strip(),
        languages=codes,
        bio=bio,
        registration_number=(registration_number or "").strip(),
    )
    if photo:
        practitioner.photo = photo
    practitioner.save()
    practitioner.specialties.set(specialties)
    practitioner.sites.set(sites)
    audit.event_record(
        actor=actor,
        name="practitioner.onboarded",
        obj=practitioner,
        data={
            "user": str(user.public_id),
            "role": role,
            "specialties": sorted(s.code for s in specialties),
            "sites": sorted(s.code for s in sites),
        },
    )
    if invite:
        transaction.on_commit(
            partial(invitation_send, practitioner_id=practitioner.pk, base_url=base_url),
            robust=True,
        )
    return practitioner


def invitation_send(*, practitioner_id: int, base_url: str = "") -> None:
    """Email the clinician their set-password link and what to do next (two-factor set-up)."""
    practitioner = Practitioner.objects.select_related("user").get(pk=practitioner_id)
    user = practitioner.user
    days = max(1, settings.PASSWORD_RESET_TIMEOUT // 86400)
    context = {
        "practitioner": practitioner,
        "user": user,
        "url": accounts.password_set_url(user=user, base_url=base_url),
        "login_url": (base_url or accounts.DEFAULT_BASE_URL).rstrip("/") + reverse("account_login"),
        "valid_days": days,
    }
    subject = render_to_string("directory/email/invitation_subject.txt", context).strip()
    body = render_to_string("directory/email/invitation_message.txt", context)
    prefix = getattr(settings, "ACCOUNT_EMAIL_SUBJECT_PREFIX", "")
    send_mail(f"{prefix}{subject}", body, None, [user.email])
    audit.event_record(actor=None, name="user.invitation_sent", obj=user)


def _remove_file(storage, name: str) -> None:
    try:
        storage.delete(name)
    except OSError:
        logger.warning("Could not delete the replaced practitioner photo %s", name)


@transaction.atomic
def practitioner_update(*, actor, practitioner: Practitioner, **fields: Any) -> Practitioner:
    """Change a practitioner's profile. Administrators change anything; a practitioner changes
    only their own biography, languages and photo (`photo=False` removes it)."""
    if not Practitioner.objects.restrict(actor, "change").filter(pk=practitioner.pk).exists():
        raise Forbidden("You may not change this profile.")
    allowed = (
        PRACTITIONER_ADMIN_FIELDS if actor.role == Role.CLINIC_ADMIN else PRACTITIONER_SELF_FIELDS
    )
    refused = sorted(set(fields) - allowed)
    if refused:
        raise Forbidden("Only an administrator can change: " + ", ".join(refused))
    practitioner = (
        Practitioner.objects.select_for_update().select_related("user").get(pk=practitioner.pk)
    )

    specialties = list(fields["specialties"]) if "specialties" in fields else None
    sites = list(fields["sites"]) if "sites" in fields else None
    bio = (fields["bio"] or "").strip() if "bio" in fields else None
    errors = _practitioner_errors(
        role=practitioner.user.role, specialties=specialties, sites=sites, bio=bio
    )
    codes = _languages(fields["languages"], errors) if "languages" in fields else None
    photo = fields.get("photo")
    if photo:
        photo = _photo(photo, errors)
    for name in ("first_name", "last_name"):
        if name in fields and not (fields[name] or "").strip():
            errors[name] = ["This field is required."]
    if errors:
        raise ValidationFailed("Some details are not valid.", field_errors=errors)

    changed: list[str] = []
    simple = {
        "title": fields.get("title"),
        "bio": bio,
        "languages": codes,
        "registration_number": fields.get("registration_number"),
    }
    for name, value in simple.items():
        if name in fields:
            value = value.strip() if isinstance(value, str) else value
            if getattr(practitioner, name) != value:
                setattr(practitioner, name, value)
                changed.append(name)
    old_photo = practitioner.photo.name if practitioner.photo else ""
    if "photo" in fields and (photo or old_photo):
        if photo:
            practitioner.photo = photo
            changed.append("photo")
        elif fields["photo"] in (None, False):
            practitioner.photo = ""
            changed.append("photo")
    if changed:
        practitioner.save()
    if "photo" in changed and old_photo:
        transaction.on_commit(partial(_remove_file, practitioner.photo.storage, old_photo))
    if "first_name" in fields or "last_name" in fields:
        user = practitioner.user
        first = (fields.get("first_name") or user.first_name).strip()
        last = (fields.get("last_name") or user.last_name).strip()
        if (first, last) != (user.first_name, user.last_name):
            accounts.user_name_update(actor=actor, user=user, first_name=first, last_name=last)
            changed.append("name")
    for name, values in (("specialties", specialties), ("sites", sites)):
        if values is None:
            continue
        related = getattr(practitioner, name)
        if set(related.values_list("pk", flat=True)) != {v.pk for v in values}:
            related.set(values)
            changed.append(name)
    if changed:
        audit.event_record(
            actor=actor, name="practitioner.updated", obj=practitioner, data={"fields": changed}
        )
    return practitioner
