"""Forms for action parameters."""

from django import forms


class ActionForm(forms.Form):
    """An action's parameters; ``target`` is the object acted on (a build, a pipeline...),
    for forms whose checks depend on it (e.g. "type the job's name to confirm")."""

    def __init__(self, *args, target=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.target = target


class KeyValueField(forms.CharField):
    """``NAME=value`` lines -> dict; blank lines ignored, names checked."""

    widget = forms.Textarea(attrs={"rows": 3, "placeholder": "NAME=value, one per line"})

    def to_python(self, value):
        text = super().to_python(value)
        pairs: dict[str, str] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            name, sep, val = line.partition("=")
            name = name.strip()
            if not sep or not name:
                raise forms.ValidationError(f"Line {number} is not NAME=value: {line.strip()[:60]!r}")
            if not all(c.isalnum() or c == "_" for c in name) or name[0].isdigit():
                raise forms.ValidationError(f"Line {number}: {name!r} is not a valid variable name.")
            pairs[name] = val
        return pairs
