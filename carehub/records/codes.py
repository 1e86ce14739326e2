"""Code tables the records need offline: common LOINC codes with units and adult reference
ranges, ICD-10-CM descriptions (from the simple-icd-10-cm package, which ships the CMS code
table), and drug families for allergy and duplicate-therapy checks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

import simple_icd_10_cm as icd10cm

TIME = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$")


@dataclass(frozen=True)
class Loinc:
    display: str
    unit: str
    low: Decimal | None
    high: Decimal | None
    minimum: Decimal  # values outside these are typing errors, not measurements
    maximum: Decimal


def _d(value: str | None) -> Decimal | None:
    return Decimal(value) if value is not None else None


LOINC: dict[str, Loinc] = {
    code: Loinc(display, unit, _d(low), _d(high), Decimal(minimum), Decimal(maximum))
    for code, display, unit, low, high, minimum, maximum in [
        ("8867-4", "Heart rate", "/min", "50", "100", "10", "300"),
        ("8480-6", "Systolic blood pressure", "mm[Hg]", "90", "140", "40", "300"),
        ("8462-4", "Diastolic blood pressure", "mm[Hg]", "60", "90", "20", "200"),
        ("8310-5", "Body temperature", "Cel", "36.0", "37.8", "25", "45"),
        ("9279-1", "Respiratory rate", "/min", "12", "20", "2", "80"),
        ("59408-5", "Oxygen saturation", "%", "94", "100", "40", "100"),
        ("29463-7", "Body weight", "kg", None, None, "0.3", "400"),
        ("8302-2", "Body height", "cm", None, None, "20", "260"),
        ("39156-5", "Body mass index", "kg/m2", "18.5", "25", "5", "100"),
        ("2339-0", "Glucose", "mmol/L", "3.9", "7.8", "0.5", "60"),
        ("4548-4", "Haemoglobin A1c", "%", "4.0", "6.0", "2", "25"),
        ("2093-3", "Total cholesterol", "mmol/L", None, "5.0", "0.5", "30"),
        ("718-7", "Haemoglobin", "g/L", "115", "175", "20", "250"),
        ("2160-0", "Creatinine", "umol/L", "45", "110", "5", "3000"),
        ("33914-3", "eGFR", "mL/min/1.73m2", "60", None, "1", "200"),
        ("1988-5", "C-reactive protein", "mg/L", None, "5", "0", "600"),
    ]
}


@cache
def icd10_description(code: str) -> str | None:
    """The description of an ICD-10-CM code ("I10", "E11.9"), or None if it is not one."""
    try:
        if code and icd10cm.is_valid_item(code):
            return str(icd10cm.get_description(code))
    except (ValueError, KeyError):
        return None
    return None


# Drug families for the safety checks: an allergy to one member warns for all; two active
# prescriptions in one family are a duplicate therapy. Names are lower-case generic names.
FAMILIES: dict[str, frozenset[str]] = {
    "penicillin": frozenset(
        {
            "penicillin",
            "amoxicillin",
            "co-amoxiclav",
            "flucloxacillin",
            "phenoxymethylpenicillin",
            "ampicillin",
            "piperacillin",
        }
    ),
    "nsaid": frozenset({"nsaid", "ibuprofen", "naproxen", "diclofenac", "aspirin", "celecoxib"}),
    "sulfonamide": frozenset(
        {"sulfonamide", "sulfa", "co-trimoxazole", "trimethoprim-sulfamethoxazole"}
    ),
    "macrolide": frozenset({"macrolide", "clarithromycin", "erythromycin", "azithromycin"}),
    "cephalosporin": frozenset({"cephalosporin", "cefalexin", "cefuroxime", "ceftriaxone"}),
    "statin": frozenset({"statin", "atorvastatin", "simvastatin", "rosuvastatin", "pravastatin"}),
    "ace_inhibitor": frozenset(
        {"ace inhibitor", "ramipril", "lisinopril", "enalapril", "perindopril"}
    ),
    "ppi": frozenset({"ppi", "omeprazole", "lansoprazole", "esomeprazole", "pantoprazole"}),
    "opioid": frozenset({"opioid", "codeine", "morphine", "tramadol", "oxycodone"}),
    "ssri": frozenset({"ssri", "sertraline", "fluoxetine", "citalopram", "escitalopram"}),
    "paracetamol": frozenset({"paracetamol", "acetaminophen", "co-codamol"}),
}


def drug_families(name: str) -> frozenset[str]:
    """The families a drug or substance name belongs to; an unknown name is its own family."""
    text = name.lower().strip()
    found = {family for family, members in FAMILIES.items() if any(m in text for m in members)}
    return frozenset(found or {text.split()[0] if text else ""})
