from django import template
from django.conf.locale import LANG_INFO

register = template.Library()


@register.filter
def language_names(codes) -> str:
    """["en", "fr"] → "English, French" (unknown codes are shown as given)."""
    return ", ".join(LANG_INFO.get(code, {}).get("name", code) for code in codes or ())
