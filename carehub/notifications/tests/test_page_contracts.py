"""The inbox pages against the shared access contract: every signed-in role has an inbox, and
another user's message is a 404."""

from __future__ import annotations

from carehub.core.testing.contracts import ALL_ROLES, PageContract
from carehub.notifications.tests.factories import MessageFactory


class TestInboxPage(PageContract):
    url_name = "notifications:list"
    allowed_roles = ALL_ROLES
    # Session, user (and MFA for staff), the page of messages, the paginator's count and the
    # navigation's unread count: 5-6 queries, whatever the number of messages shown.
    max_queries = 10

    def make_target(self):
        return {}

    def grant(self, actor, target):
        MessageFactory.create_batch(30, recipient=actor, url="/patients/me/")


class TestReadSubmit(PageContract):
    url_name = "notifications:read"
    method = "post"
    allowed_roles = ALL_ROLES
    relationship_roles = ALL_ROLES  # a message addressed to someone else: 404
    expected_status = 302
    max_queries = 10

    def make_target(self):
        return MessageFactory(url="/patients/me/")

    def url_kwargs(self, target):
        return {"public_id": target.public_id}

    def grant(self, actor, target):
        target.recipient = actor
        target.save(update_fields=["recipient"])


class TestReadAllSubmit(PageContract):
    url_name = "notifications:read_all"
    method = "post"
    allowed_roles = ALL_ROLES
    expected_status = 302
    max_queries = 10

    def make_target(self):
        return {}

    def grant(self, actor, target):
        MessageFactory.create_batch(3, recipient=actor)
