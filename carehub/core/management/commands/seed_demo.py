"""`manage.py seed_demo`: a small, realistic clinic to try CareHub with.

Two sites in different time zones, their departments, one account per staff role, 12 doctors
over 10 specialties, 50 patients (10 of whom can sign in) registered through the real services so
record numbers and duplicate detection run, and care relationships between them.

Passwords are generated on every install (never fixed strings) and written with the staff TOTP
secrets to `var/demo-credentials.json` (mode 0600, git-ignored). Running the command again creates
nothing; `--force-credentials` gives the demo accounts new passwords and rewrites the file."""

from __future__ import annotations

import datetime
import json
import os
import random
import secrets
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from faker import Faker

from carehub.accounts import services as accounts
from carehub.accounts.choices import Role
from carehub.accounts.models import User
from carehub.audit import services as audit
from carehub.core.context import acting_as
from carehub.core.exceptions import Conflict
from carehub.directory import services as directory
from carehub.patients import services as patients
from carehub.scheduling import selectors as scheduling_selectors
from carehub.scheduling import services as scheduling
from carehub.scheduling.models import Appointment
from carehub.triage import services as triage
from carehub.triage.models import TriageSession

MARKER_EVENT = "demo.seeded"
ADMIN_EMAIL = "clinic.admin@example.org"
STAFF_DOMAIN = "example.org"
PATIENT_DOMAIN = "example.com"
FAKER_SEED = 20260101
PATIENT_COUNT = 50
PATIENTS_WITH_ACCOUNTS = 10

SITES: list[dict[str, Any]] = [
    {
        "code": "riv",
        "name": "Riverside Clinic",
        "timezone": "Europe/London",
        "emergency_phone": "999",
        "phone": "+44 20 7946 0321",
        "address": "12 Riverside Walk\nLondon SE1 9XX\nUnited Kingdom",
        "departments": [
            "General Practice",
            "Cardiology",
            "Paediatrics",
            "Dermatology",
            "Women's Health",
        ],
        "locale": "en_GB",
        "country": "GB",
    },
    {
        "code": "hmc",
        "name": "Harbor Medical Center",
        "timezone": "America/New_York",
        "emergency_phone": "911",
        "phone": "+1 212 555 0147",
        "address": "400 Harbor Boulevard\nNew York, NY 10004\nUnited States",
        "departments": ["Emergency", "Orthopedics", "Neurology", "Psychiatry", "Endocrinology"],
        "locale": "en_US",
        "country": "US",
    },
]
# (specialty codes, site codes): 12 doctors, 10 specialties, two of them working at both sites.
DOCTORS = [
    (["general_practice"], ["riv"]),
    (["cardiology"], ["riv"]),
    (["pediatrics"], ["riv"]),
    (["dermatology"], ["riv"]),
    (["gynecology", "obstetrics"], ["riv"]),
    (["general_practice", "geriatrics"], ["riv", "hmc"]),
    (["emergency_medicine"], ["hmc"]),
    (["orthopedics", "sports_medicine"], ["hmc"]),
    (["neurology"], ["hmc"]),
    (["psychiatry"], ["hmc"]),
    (["endocrinology"], ["hmc", "riv"]),
    (["cardiology"], ["hmc"]),
]
EXTRA_LANGUAGES = ["fr", "es", "de", "pl", "pt", "it", "ar", "hi", "ur", "zh", "pa", "ro"]
INTERESTS = {
    "general_practice": "long-term conditions and preventive care",
    "cardiology": "heart failure and cardiac rehabilitation",
    "pediatrics": "childhood asthma and development",
    "dermatology": "eczema, psoriasis and skin cancer screening",
    "gynecology": "menopause care and pelvic health",
    "emergency_medicine": "trauma and acute care",
    "orthopedics": "knee and shoulder injuries",
    "neurology": "migraine and epilepsy",
    "psychiatry": "anxiety, depression and ADHD in adults",
    "endocrinology": "type 1 and type 2 diabetes",
}
TOTP_NOTE = (
    "Staff accounts (admin, auditor, receptionist, nurse, doctors) must enter a 6-digit code after "
    "their password. Add the account's totp_secret to any authenticator app (manual entry: "
    "time-based, SHA-1, 6 digits, 30 seconds), or print the current code with: "
    'python3 -c "import base64,hmac,struct,sys,time;k=base64.b32decode(sys.argv[1]);'
    "h=hmac.digest(k,struct.pack('>Q',int(time.time())//30),'sha1');o=h[-1]&15;"
    "print('%06d'%((struct.unpack('>I',h[o:o+4])[0]&0x7fffffff)%1000000))\" TOTP_SECRET . "
    "Patients sign in with their password only. Regenerate passwords with "
    "`manage.py seed_demo --force-credentials`."
)


# Made-up complaints for the demo symptom checks (age, sex, what the patient typed).
DEMO_COMPLAINTS = [
    (34, "female", "Sore throat and a temperature since yesterday, no cough."),
    (58, "male", "Tight chest when I walk uphill, goes away when I rest."),
    (27, "female", "Burning when I pee and needing to go all the time for two days."),
    (41, "male", "Lower back pain after lifting boxes, no numbness."),
    (6, "male", "My son has a cough and runny nose for three days, eating and drinking fine."),
    (72, "female", "Dizzy when I turn over in bed, the room spins for a few seconds."),
    (23, "male", "Itchy red eyes and sneezing every spring."),
    (65, "male", "Crushing chest pain spreading to my left arm and sweating."),
]


def credentials_path() -> Path:
    return Path(settings.VAR_DIR) / "demo-credentials.json"


def new_password() -> str:
    return secrets.token_urlsafe(12)


class Passwords:
    """Fresh passwords with their hashes computed up front, in parallel: the password hasher is
    deliberately slow (~0.2 s each), and hashlib releases the GIL while it works."""

    def __init__(self, count: int) -> None:
        plain = [new_password() for _ in range(count)]
        with ThreadPoolExecutor(max_workers=max(1, min(8, os.cpu_count() or 1))) as pool:
            hashed = list(pool.map(make_password, plain))
        self._pairs = list(zip(plain, hashed, strict=True))

    def assign(self, user) -> str:
        """Give `user` the next password; returns it in clear for the credentials file."""
        plain, hashed = self._pairs.pop()
        user.password = hashed
        user.save(update_fields=["password"])
        return plain


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in plain.lower() if c.isalnum() or c in ".-")


class Command(BaseCommand):
    help = "Load demo sites, staff, doctors and patients, and write var/demo-credentials.json."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force-credentials",
            action="store_true",
            help="Give the demo accounts new passwords and rewrite the credentials file.",
        )

    def handle(self, *args, **options):
        from carehub.audit.models import Event

        marker = Event.objects.filter(name=MARKER_EVENT).order_by("-seq").first()
        admin_exists = User.objects.filter(email__iexact=ADMIN_EMAIL).exists()
        if marker is not None or admin_exists:
            if options["force_credentials"]:
                if marker is None:
                    raise CommandError(
                        f"{ADMIN_EMAIL} exists but was not created by seed_demo; "
                        "cannot tell which accounts are demo ones."
                    )
                emails = marker.data["accounts"]
                passwords = Passwords(4 + len(emails["doctors"]) + len(emails["patients"]))
                with transaction.atomic():
                    credentials = self._refresh_credentials(emails, passwords)
                self._write(credentials)
                self.stdout.write(
                    self.style.SUCCESS(f"New demo passwords written to {credentials_path()}")
                )
                return
            self.stdout.write(f"Demo data already loaded. Credentials: {credentials_path()}")
            if not credentials_path().exists():
                self.stdout.write(
                    "That file is missing: run `manage.py seed_demo --force-credentials` "
                    "to recreate it."
                )
            return

        seeder = Seeder()  # hashes the passwords before the write transaction starts
        with transaction.atomic():
            credentials = seeder.run()
        self._write(credentials)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data loaded: 2 sites, {len(credentials['doctors'])} doctors, "
                f"{PATIENT_COUNT} patients. "
                f"Credentials: {credentials_path()}"
            )
        )

    def _write(self, credentials: dict[str, Any]) -> None:
        path = credentials_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"note": TOTP_NOTE, **credentials}, fh, indent=2, ensure_ascii=False)
            fh.write("\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)

    def _refresh_credentials(self, emails: dict[str, Any], passwords: Passwords) -> dict[str, Any]:
        users = {
            u.email: u
            for u in User.objects.filter(
                email__in=[emails[k] for k in ("admin", "auditor", "receptionist", "nurse")]
                + emails["doctors"]
                + emails["patients"]
            )
        }

        def staff(email: str) -> dict[str, str]:
            user = users[email]
            password = passwords.assign(user)
            return {"username": email, "password": password, "totp_secret": _totp_secret(user)}

        result: dict[str, Any] = {
            k: staff(emails[k]) for k in ("admin", "auditor", "receptionist", "nurse")
        }
        result["doctors"] = []
        for email in emails["doctors"]:
            entry = staff(email)
            result["doctors"].append({**entry, **_doctor_details(users[email])})
        result["patients"] = []
        for email in emails["patients"]:
            password = passwords.assign(users[email])
            result["patients"].append(
                {"username": email, "password": password, **_patient_details(users[email])}
            )
        return result


def _totp_secret(user) -> str:
    """The user's TOTP secret, created if they have none (an existing one is read back, so
    authenticator apps already set up keep working)."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from allauth.mfa.utils import decrypt

    existing = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    if existing is not None:
        return decrypt(existing.data["secret"])
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def _doctor_details(user) -> dict[str, Any]:
    practitioner = user.practitioner
    return {
        "name": practitioner.display_name,
        "specialties": [s.label for s in practitioner.specialties.all()],
        "site": practitioner.sites.order_by("pk").first().name,
    }


def _patient_details(user) -> dict[str, Any]:
    patient = user.patient
    return {"name": patient.full_name, "mrn": patient.mrn}


class Seeder:
    """Builds the demo clinic inside one transaction; returns the credentials to write."""

    def __init__(self) -> None:
        self.fake = {site["code"]: Faker(site["locale"]) for site in SITES}
        for index, fake in enumerate(self.fake.values()):
            fake.seed_instance(FAKER_SEED + index)
        self.rng = random.Random(FAKER_SEED)  # noqa: S311 - demo data, not security
        self.used_emails: set[str] = set()
        self.passwords = Passwords(4 + len(DOCTORS) + PATIENTS_WITH_ACCOUNTS)

    def email(self, first: str, last: str, domain: str) -> str:
        base = f"{_ascii(first)}.{_ascii(last)}".strip(".")
        candidate, n = f"{base}@{domain}", 1
        while candidate in self.used_emails:
            n += 1
            candidate = f"{base}{n}@{domain}"
        self.used_emails.add(candidate)
        return candidate

    def staff(
        self, actor, role: str, first: str, last: str, email: str | None = None
    ) -> tuple[Any, dict]:
        email = email or self.email(first, last, STAFF_DOMAIN)
        self.used_emails.add(email)
        user = accounts.user_provision(
            actor=actor, email=email, first_name=first, last_name=last, role=role, password=None
        )
        password = self.passwords.assign(user)
        return user, {
            "username": user.email,
            "password": password,
            "totp_secret": _totp_secret(user),
        }

    def run(self) -> dict[str, Any]:
        # Bootstrap: nobody exists yet who could create the first administrator, so the system does.
        admin, admin_creds = self.staff(None, Role.CLINIC_ADMIN, "Amelia", "Clarke", ADMIN_EMAIL)
        with acting_as(admin):
            return self._run(admin, admin_creds)

    def _run(self, admin, admin_creds: dict) -> dict[str, Any]:
        directory.specialties_sync()  # in case the table was flushed since migration 0002 loaded it
        sites = {}
        for spec in SITES:
            site = directory.site_create(
                actor=admin,
                code=spec["code"],
                name=spec["name"],
                timezone=spec["timezone"],
                emergency_phone=spec["emergency_phone"],
                address=spec["address"],
                phone=spec["phone"],
            )
            for department in spec["departments"]:
                directory.department_ensure(actor=admin, site=site, name=department)
            sites[spec["code"]] = site

        uk = self.fake["riv"]
        auditor, auditor_creds = self.staff(admin, Role.AUDITOR, uk.first_name(), uk.last_name())
        receptionist, reception_creds = self.staff(
            admin, Role.RECEPTIONIST, uk.first_name(), uk.last_name()
        )

        from carehub.directory import selectors as directory_selectors

        specialties = {s.code: s for s in directory_selectors.specialty_choices()}
        nurse, nurse_creds = self.clinician(
            admin, Role.NURSE, uk, [specialties["general_practice"]], [sites["riv"]], title=""
        )
        doctors, doctor_creds = [], []
        for index, (codes, site_codes) in enumerate(DOCTORS):
            fake = self.fake[site_codes[0]]
            practitioner, creds = self.clinician(
                admin,
                Role.DOCTOR,
                fake,
                [specialties[c] for c in codes],
                [sites[c] for c in site_codes],
                title="Dr",
                years=8 + (index * 3) % 20,
            )
            doctors.append(practitioner)
            doctor_creds.append({**creds, **_doctor_details(practitioner.user)})

        patients_by_site, patient_creds = self.patients(receptionist, sites)
        self.care_relationships(receptionist, nurse, doctors, patients_by_site)
        self.schedules(admin, receptionist, doctors, patients_by_site)
        self.symptom_checks()

        emails = {
            "admin": admin.email,
            "auditor": auditor.email,
            "receptionist": receptionist.email,
            "nurse": nurse.user.email,
            "doctors": [d["username"] for d in doctor_creds],
            "patients": [p["username"] for p in patient_creds],
        }
        audit.event_record(actor=admin, name=MARKER_EVENT, data={"accounts": emails})
        return {
            "admin": admin_creds,
            "auditor": auditor_creds,
            "receptionist": reception_creds,
            "nurse": {**nurse_creds, "name": nurse.display_name},
            "doctors": doctor_creds,
            "patients": patient_creds,
        }

    def clinician(self, admin, role, fake, specialties, sites, *, title: str, years: int = 6):
        female = self.rng.random() < 0.5
        first = fake.first_name_female() if female else fake.first_name_male()
        last = fake.last_name()
        languages = ["en", *self.rng.sample(EXTRA_LANGUAGES, self.rng.choice([0, 1, 1, 2]))]
        main = specialties[0]
        if role == Role.DOCTOR:
            interest = INTERESTS.get(main.code, main.label.lower())
            bio = (
                f"{title} {last} has practised {main.label.split(' (')[0].lower()} for {years} "
                f"years and sees patients at {' and '.join(s.name for s in sites)}. "
                f"Special interest: {interest}."
            )
        else:
            bio = (
                f"{first} is a practice nurse at {sites[0].name}: vaccinations, wound care, "
                f"blood tests and chronic disease reviews."
            )
        register = "GMC" if sites[0].code == "riv" else "NY"  # UK medical register / NY licence
        practitioner = directory.practitioner_onboard(
            actor=admin,
            email=self.email(first, last, STAFF_DOMAIN),
            first_name=first,
            last_name=last,
            title=title,
            role=role,
            specialties=specialties,
            sites=sites,
            languages=languages,
            bio=bio,
            registration_number=f"{register}-{self.rng.randint(1000000, 9999999)}",
            invite=False,
        )
        password = self.passwords.assign(practitioner.user)
        creds = {
            "username": practitioner.user.email,
            "password": password,
            "totp_secret": _totp_secret(practitioner.user),
        }
        return practitioner, creds

    def patients(self, receptionist, sites) -> tuple[dict[str, list], list[dict]]:
        by_site: dict[str, list] = {code: [] for code in sites}
        creds: list[dict] = []
        today = datetime.date.today()
        codes = list(sites)
        for index in range(PATIENT_COUNT):
            code = codes[index % len(codes)]
            fake, spec = self.fake[code], SITES[index % len(codes)]
            female = self.rng.random() < 0.5
            first = fake.first_name_female() if female else fake.first_name_male()
            last = fake.last_name()
            birth = fake.date_between(
                start_date=today - datetime.timedelta(days=92 * 365),
                end_date=today - datetime.timedelta(days=365),
            )
            data: dict[str, Any] = {
                "given_name": first,
                "family_name": last,
                "birth_date": birth,
                "sex": "female" if female else "male",
                "phone": fake.phone_number(),
                "email": self.email(first, last, PATIENT_DOMAIN),
                "address_line": fake.street_address().replace("\n", ", "),
                "city": fake.city(),
                "postal_code": fake.postcode(),
                "country": spec["country"],
                "emergency_contact_name": fake.name(),
                "emergency_contact_phone": fake.phone_number(),
                "emergency_contact_relation": self.rng.choice(
                    ["Spouse", "Partner", "Parent", "Daughter", "Son"]
                ),
            }
            if index == PATIENT_COUNT - 1:
                # A second record for an earlier patient (new phone, same person): the duplicate
                # check flags it for the administrator, as it would at a real front desk.
                twin = by_site[code][0]
                data.update(
                    given_name=twin.given_name,
                    family_name=twin.family_name,
                    birth_date=twin.birth_date,
                    sex=twin.sex,
                    email=twin.email,
                )
            user, password = None, None
            if index < PATIENTS_WITH_ACCOUNTS:
                user = accounts.user_provision(
                    actor=None,
                    email=data["email"],
                    first_name=first,
                    last_name=last,
                    role=Role.PATIENT,
                    password=None,
                )
                password = self.passwords.assign(user)
            registration = patients.patient_register(
                actor=receptionist, site=sites[code], user=user, **data
            )
            by_site[code].append(registration.patient)
            if user is not None:
                creds.append(
                    {
                        "username": user.email,
                        "password": password,
                        "name": registration.patient.full_name,
                        "mrn": registration.patient.mrn,
                    }
                )
        return by_site, creds

    def schedules(self, admin, receptionist, doctors, patients_by_site) -> None:
        """Weekly hours for every doctor (a doctor of two sites splits the week), a few booked
        appointments in the next two weeks, and one doctor's leave next week."""
        morning, afternoon = (
            (datetime.time(9, 0), datetime.time(12, 30)),
            (
                datetime.time(14, 0),
                datetime.time(17, 0),
            ),
        )
        for index, doctor in enumerate(doctors):
            doctor_sites = list(doctor.sites.order_by("pk"))
            for weekday in range(5):
                site = doctor_sites[weekday % len(doctor_sites)]
                scheduling.rule_save(
                    actor=admin,
                    practitioner=doctor,
                    site=site,
                    weekday=weekday,
                    start_time=morning[0],
                    end_time=morning[1],
                    slot_minutes=20 if index % 3 else 15,
                    mode="both",
                )
                if weekday != 2:  # Wednesday afternoons off
                    scheduling.rule_save(
                        actor=admin,
                        practitioner=doctor,
                        site=site,
                        weekday=weekday,
                        start_time=afternoon[0],
                        end_time=afternoon[1],
                        slot_minutes=30,
                        mode="in_person",
                    )
        now = datetime.datetime.now(datetime.UTC)
        rng = self.rng
        for doctor in doctors:
            site_patients = patients_by_site[doctor.sites.order_by("pk").first().code]
            free = scheduling_selectors.free_slots(
                practitioner_ids=[doctor.pk],
                start=now,
                end=now + datetime.timedelta(days=14),
                staff=True,
            )[doctor.pk]
            for slot in rng.sample(free, k=min(6, len(free))):
                try:
                    scheduling.appointment_book(
                        actor=receptionist,
                        practitioner=doctor,
                        start=slot.start,
                        mode=slot.modes[0],
                        patient_public_id=rng.choice(site_patients).public_id,
                    )
                except Conflict:
                    continue  # the patient already has an appointment then
        away = doctors[1]
        leave_day = (now + datetime.timedelta(days=9)).date()
        start = datetime.datetime.combine(leave_day, datetime.time(0, 0), tzinfo=datetime.UTC)
        scheduling.exception_add(
            actor=admin,
            practitioner=away,
            kind="leave",
            start=start,
            end=start + datetime.timedelta(days=1),
            note="Training day",
        )

    def symptom_checks(self) -> None:
        """Anonymous symptom checks over the last two weeks (for the usage page) and one check a
        demo patient booked from, attached to their appointment as its questionnaire."""
        rng = self.rng
        now = datetime.datetime.now(datetime.UTC)
        for _ in range(24):
            age, sex, complaint = rng.choice(DEMO_COMPLAINTS)
            check = self._finished_check(None, age, sex, complaint)
            started = now - datetime.timedelta(days=rng.randint(0, 13), minutes=rng.randint(5, 600))
            TriageSession.objects.filter(pk=check.pk).update(
                created_at=started, finished_at=started + datetime.timedelta(minutes=2)
            )
        appointment = (
            Appointment.objects.filter(patient__user__isnull=False, start__gt=now)
            .select_related("patient__user")
            .order_by("start")
            .first()
        )
        if appointment is None:
            return
        user = appointment.patient.user
        with acting_as(user):
            check = self._finished_check(user, 34, "female", DEMO_COMPLAINTS[0][2])
            triage.session_attach(actor=user, public_id=check.public_id, appointment=appointment)

    def _finished_check(self, actor, age, sex: str, complaint: str) -> TriageSession:
        check = triage.session_start(actor=actor, age=age, sex=sex, text_input=complaint)
        while check.status != "done":
            reply = self.rng.choice(["no", "no", "unknown"])
            check = triage.session_answer(
                actor=actor, public_id=check.public_id, finding=check.question, answer=reply
            )
        return check

    def care_relationships(self, receptionist, nurse, doctors, patients_by_site) -> None:
        for index, doctor in enumerate(doctors):
            site_patients = patients_by_site[doctor.sites.order_by("pk").first().code]
            start = (index * 4) % len(site_patients)
            for patient in (site_patients * 2)[start : start + 4]:
                patients.care_relationship_ensure(
                    actor=receptionist, practitioner=doctor, patient=patient
                )
        for patient in patients_by_site["riv"][:6]:
            patients.care_relationship_ensure(
                actor=receptionist, practitioner=nurse, patient=patient
            )
