from django import forms

from dashboard.models import Connection, FeedToken, Pipeline, Project


class ScopeChoice(forms.ModelChoiceField):
    """A project or pipeline named with its connection, so equal names stay apart."""

    def label_from_instance(self, obj) -> str:
        parts = [obj.connection.name]
        if isinstance(obj, Pipeline) and obj.project:
            parts.append(obj.project.name)
        parts.append(obj.name)
        return " / ".join(parts)


class ScopeForm(forms.Form):
    """Which pipeline x branch (or what above it) a badge shows."""

    connection = forms.ModelChoiceField(Connection.objects.all(), required=False, empty_label="any connection")
    project = ScopeChoice(Project.objects.select_related("connection"), required=False, empty_label="any project")
    pipeline = ScopeChoice(
        Pipeline.objects.select_related("connection", "project"), required=False, empty_label="any pipeline"
    )
    branch = forms.CharField(max_length=255, required=False, strip=True)


class FeedTokenForm(forms.ModelForm):
    project = ScopeChoice(Project.objects.select_related("connection"), required=False, empty_label="any project")
    pipeline = ScopeChoice(
        Pipeline.objects.select_related("connection", "project"), required=False, empty_label="any pipeline"
    )

    class Meta:
        model = FeedToken
        fields = ["name", "connection", "project", "pipeline", "branch"]
        help_texts = {"branch": "Exact branch name; blank for every branch."}


def scope_formfield(db_field, kwargs: dict) -> dict:
    """Admin select boxes for a scope's project and pipeline, named with their connection."""
    if db_field.name == "project":
        kwargs.update(form_class=ScopeChoice, queryset=Project.objects.select_related("connection"))
    elif db_field.name == "pipeline":
        kwargs.update(form_class=ScopeChoice, queryset=Pipeline.objects.select_related("connection", "project"))
    return kwargs
