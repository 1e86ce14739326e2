"""Who may read and write clinical entries: through the patient, deny by default.

- reading ("view"): the patient (own record), and doctors and nurses with a care relationship or
  an unexpired break-glass grant;
- writing ("change"): doctors and nurses with that access; never receptionists, administrators,
  auditors or patients (a patient's own uploads are documents, a later step)."""

from django.db import models

from carehub.accounts.choices import CLINICIAN_ROLES, Role
from carehub.core import policies
from carehub.patients.policies import clinical_access_q
from carehub.records.models import CLINICAL_MODELS, Amendment

WRITE_ROLES = CLINICIAN_ROLES


def _through_patient(qs, actor, action):
    if actor.role == Role.PATIENT:
        return qs.filter(patient__user=actor) if action == "view" else qs.none()
    if actor.role in CLINICIAN_ROLES and action in {"view", "change"}:
        # The relationship joins can repeat rows: filter through a subquery.
        allowed = qs.model.objects.filter(clinical_access_q(actor, "patient__")).values("pk")
        return qs.filter(pk__in=allowed)
    return qs.none()


_MODELS: tuple[type[models.Model], ...] = (*CLINICAL_MODELS, Amendment)
for _model in _MODELS:
    policies.register(_model)(_through_patient)
