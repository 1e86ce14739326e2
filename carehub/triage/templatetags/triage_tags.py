"""`{% pre_consultation appointment %}`: the symptom check a booking came from, on the
appointment page, for the clinicians (and the patient) who may read its clinical content."""

from django import template

from carehub.triage import selectors

register = template.Library()


@register.inclusion_tag("triage/_questionnaire.html", takes_context=True)
def pre_consultation(context, appointment):
    request = context["request"]
    return {
        "questionnaire": selectors.questionnaire_for_appointment(
            actor=request.user, appointment=appointment
        )
    }
