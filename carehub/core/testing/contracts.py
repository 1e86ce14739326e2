"""Contract base classes: every page and API endpoint gets the same access checks for free.

A test class declares what it guards and inherits four checks:

    class TestPatientDetailPage(PageContract):
        url_name = "patients:detail"
        allowed_roles = (Role.DOCTOR, Role.RECEPTIONIST)
        relationship_roles = (Role.DOCTOR,)          # these also need a relationship to the target
        expected_access = ("demographics",)          # access-log categories written for the patient

        def make_target(self):  return PatientFactory()
        def url_kwargs(self, target):  return {"public_id": target.public_id}
        def grant(self, actor, target):  relate(actor.practitioner, target)

- anonymous: pages redirect to sign-in, API answers 401 problem JSON;
- each role outside `allowed_roles`: 403 (pages and API);
- each role in `relationship_roles` without the relationship (another patient's object): 404;
- an allowed actor with the relationship: `expected_status`, exactly the expected access-log rows
  for the target patient, the expected named events, and at most `max_queries` queries.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from carehub.accounts.choices import Role

ALL_ROLES = tuple(Role)


def client_for(user, *, api: bool = False):
    """A signed-in client: a session for pages, a real JWT bearer token for the API."""
    if api:
        from carehub.accounts.tokens import _pair_for

        api_client = APIClient()
        if user is not None:
            api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {_pair_for(user).access}")
        return api_client
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def make_actor(role: str):
    """A user of `role` with what the role needs to work: staff get TOTP, clinicians a
    practitioner profile, patients their own record."""
    if role in (Role.DOCTOR, Role.NURSE):
        from carehub.directory.tests.factories import make_practitioner

        return make_practitioner(role=role).user
    if role == Role.PATIENT:
        from carehub.patients.tests.factories import make_patient_user

        return make_patient_user().user
    from carehub.accounts.tests.factories import make_user

    return make_user(role)


@pytest.mark.django_db
class Contract:
    url_name: ClassVar[str]
    method: ClassVar[str] = "get"
    api: ClassVar[bool] = False
    allowed_roles: ClassVar[tuple[str, ...]] = ()
    relationship_roles: ClassVar[tuple[str, ...]] = ()
    expected_status: ClassVar[int] = 200
    expected_access: ClassVar[tuple[str, ...]] = ()
    expected_events: ClassVar[tuple[str, ...]] = ()
    max_queries: ClassVar[int] = 25

    # --- what a subclass provides -------------------------------------------------------
    def make_target(self) -> Any:
        """The object the URL names (often a Patient), or None for pages without one."""
        return None

    def url_kwargs(self, target: Any) -> dict[str, Any]:
        return {}

    def grant(self, actor, target: Any) -> None:
        """Give `actor` the relationship to `target` that its role needs (own record, care team)."""

    def data(self, target: Any) -> dict[str, Any] | None:
        return None

    def target_patient_id(self, target: Any):
        """The patient whose access-log rows are expected (default: the target if it is one)."""
        return (
            getattr(target, "public_id", None)
            if target is not None and hasattr(target, "mrn")
            else None
        )

    # --- helpers ------------------------------------------------------------------------
    def url(self, target: Any) -> str:
        return reverse(self.url_name, kwargs=self.url_kwargs(target))

    def request(self, user, target: Any, client=None):
        client = client if client is not None else client_for(user, api=self.api)
        body = self.data(target)
        call = getattr(client, self.method)
        if self.api:
            return (
                call(self.url(target), body, format="json")
                if body is not None
                else call(self.url(target))
            )
        return call(self.url(target), body) if body is not None else call(self.url(target))

    # --- the contract -------------------------------------------------------------------
    def test_anonymous_is_refused(self):
        target = self.make_target()
        response = self.request(None, target)
        if self.api:
            assert response.status_code == 401
            assert response["Content-Type"].startswith("application/problem+json")
        else:
            assert response.status_code == 302
            assert reverse("account_login") in response["Location"]

    def test_wrong_roles_are_forbidden(self):
        target = self.make_target()
        for role in ALL_ROLES:
            if role in self.allowed_roles:
                continue
            actor = make_actor(role)
            response = self.request(actor, target)
            assert response.status_code == 403, f"{role} got {response.status_code}"

    def test_unrelated_actor_gets_not_found(self):
        if not self.relationship_roles:
            pytest.skip("no relationship-scoped roles")
        target = self.make_target()
        for role in self.relationship_roles:
            actor = make_actor(role)
            response = self.request(actor, target)
            assert response.status_code == 404, (
                f"{role} without relationship got {response.status_code}"
            )

    def test_allowed_actor_succeeds_with_audit(self, django_assert_max_num_queries):
        from carehub.audit.models import AccessRecord, Event

        assert self.allowed_roles, "a contract must allow someone"
        for role in self.allowed_roles:
            target = self.make_target()
            actor = make_actor(role)
            self.grant(actor, target)
            patient_id = self.target_patient_id(target)
            access_before = AccessRecord.objects.count()
            events_before = set(Event.objects.values_list("pk", flat=True))
            client = client_for(actor, api=self.api)  # signing in is not part of the budget
            with django_assert_max_num_queries(self.max_queries):
                response = self.request(actor, target, client=client)
            assert response.status_code == self.expected_status, (
                f"{role} got {response.status_code}"
            )
            new_access = AccessRecord.objects.order_by("seq")[access_before:]
            if patient_id is not None:
                categories = sorted(r.category for r in new_access if r.patient_id == patient_id)
                assert categories == sorted(self.expected_access), (
                    f"{role}: access rows {categories}"
                )
                assert all(r.actor_id == actor.public_id for r in new_access)
            elif not self.expected_access:
                # A page that shows no patient data must not claim to have read any.
                assert not [r for r in new_access if r.actor_id == actor.public_id], (
                    f"{role}: unexpected access rows"
                )
            new_events = set(
                Event.objects.exclude(pk__in=events_before).values_list("name", flat=True)
            )
            assert set(self.expected_events) <= new_events, f"{role}: events {new_events}"


class PageContract(Contract):
    api = False


class ApiContract(Contract):
    api = True
