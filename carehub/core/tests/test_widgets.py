from django import forms

from carehub.core.widgets import FastSelect


class LanguageForm(forms.Form):
    language = forms.ChoiceField(
        choices=[("en", "English"), ("fr", "French <b>"), ("de", "German")], widget=FastSelect
    )


def test_fast_select_renders_like_a_select_with_the_choice_selected_and_labels_escaped():
    html = str(LanguageForm(initial={"language": "fr"})["language"])

    assert html.startswith("<select ")
    assert 'name="language"' in html
    assert 'id="id_language"' in html
    assert '<option value="fr" selected>French &lt;b&gt;</option>' in html
    assert '<option value="en">English</option>' in html
    assert "<b>" not in html


def test_fast_select_keeps_the_submitted_value_on_a_form_with_errors():
    form = LanguageForm(data={"language": "de"})

    assert form.is_valid()
    assert '<option value="de" selected>' in str(form["language"])
