"""`manage.py check` (and therefore start-up and CI) refuses a knowledge base that does not load."""

from django.core.checks import Error, register

from carehub.triage import kb


@register()
def knowledge_base_loads(app_configs, **kwargs):
    try:
        kb.knowledge_base()
    except kb.KnowledgeBaseError as exc:
        return [Error(f"Symptom-checker knowledge base: {exc}", id="triage.E001")]
    return []
