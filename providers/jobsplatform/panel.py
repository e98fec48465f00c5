"""What the job page shows beyond the generic pages: a log window with search, the
schedule (next fire time, missed flag), run counts and the latest run, and CPU/memory
charts. Everything here is a live call; each part fails on its own, in words."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django import forms
from django.urls import reverse
from django.utils import timezone

from providers.base.errors import ProviderError
from providers.base.parse import integer, obj, text, timestamp

from . import contract as c
from .charts import chart
from .client import Window
from .mapping import newest_scheduled, run_external_id, run_state, schedule_facts, split_pipeline_id, split_run_id

if TYPE_CHECKING:
    from .client import JobsPlatformClient

SINCE_CHOICES = [(900, "15 minutes"), (3600, "1 hour"), (21600, "6 hours"), (86400, "1 day"), (604800, "7 days")]
DEFAULT_SINCE = 3600
DEFAULT_LINES = 200
WINDOW_PREFIX = "logs"  # the page has query parameters of its own
COUNT_ORDER = (c.TOTAL, c.PENDING, c.RUNNING, c.SUCCEEDED, c.FAILED, c.CANCELLED)


@dataclass
class LogLine:
    timestamp: datetime | None
    stream: str
    line: str
    run_id: str
    run_url: str = ""

    @property
    def stderr(self) -> bool:
        return self.stream == c.STDERR


@dataclass
class LogWindow:
    lines: list[LogLine] = field(default_factory=list)
    truncated: bool = False


class WindowForm(forms.Form):
    """The time range and search box above the logs (times in UTC)."""

    since = forms.TypedChoiceField(
        choices=[("", "custom"), *SINCE_CHOICES], coerce=int, required=False, empty_value=None
    )
    start = forms.DateTimeField(required=False)
    end = forms.DateTimeField(required=False)
    limit = forms.IntegerField(required=False, min_value=1, max_value=c.MAX_LOG_LIMIT)
    q = forms.CharField(required=False, max_length=200, label="Filter (case-sensitive)")

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and end <= start:
            raise forms.ValidationError("The end of the window must be after its start.")
        return data


class JobPanel:
    """Live panels for the adapter; needs ``client`` and ``connection`` from it."""

    client: JobsPlatformClient
    kind: str

    def log_window(
        self,
        target: Any,
        since: int | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
        filter: str | None = None,
    ) -> LogWindow:
        """Log lines of a job (all its runs, given a Pipeline) or of one run (a Build or
        its Job), newest ``limit`` of the window, oldest first. ``filter`` is a
        case-sensitive substring; ``start``/``end`` win over ``since``."""
        project_id, job_id, run_id = self.address(target)
        window = Window(start=start, end=end) if start or end else Window(since=since)
        limit = min(max(int(limit or c.DEFAULT_LOG_LIMIT), 1), c.MAX_LOG_LIMIT)
        entries, truncated = self.client.logs(
            project_id, job_id, run_id, window=window, limit=limit, filter=filter or None
        )
        lines = [
            LogLine(
                timestamp(e.get(c.TIMESTAMP)),
                text(e.get(c.STREAM), 16),
                text(e.get(c.LINE), 20_000),
                text(e.get(c.RUN_ID), 100) or (run_id or ""),
            )
            for e in entries
        ]
        return LogWindow(lines, truncated)

    def address(self, target: Any) -> tuple[str, str, str | None]:
        """(project id, job id, run id or None) of a Pipeline, Build or Job row."""
        from dashboard.models import Build, Job, Pipeline

        if isinstance(target, Pipeline):
            project_id, job_id = split_pipeline_id(target.external_id)
            return project_id, job_id, None
        if isinstance(target, Build | Job):
            job_id, run_id = split_run_id(target.external_id)
            project_id = text(obj(target.raw).get("project_id"))
            if not project_id:
                build = target if isinstance(target, Build) else target.build
                project_id = build.project.external_id if build.project_id else ""
            return project_id, job_id, run_id
        raise TypeError(f"no logs for a {type(target).__name__}")

    def panel_context(self, obj: Any, request: Any = None, name: str = "pipeline_panel") -> dict:
        """``{"panel": ...}`` for ``templates/providers/jobsplatform/pipeline_panel.html``
        on a job's (Pipeline's) page; the log window comes from the query string."""
        from dashboard.models import Pipeline

        if name != "pipeline_panel" or not isinstance(obj, Pipeline):
            return {}
        return {"panel": self.pipeline_panel(obj, getattr(request, "GET", None))}

    def pipeline_panel(self, pipeline: Any, params: Any = None) -> dict:
        """The job page's panel; ``params`` holds the window form (``logs-since``,
        ``logs-start``, ``logs-end``, ``logs-limit``, ``logs-q``)."""
        bound = bool(params) and any(key.startswith(f"{WINDOW_PREFIX}-") for key in params)
        form = WindowForm(params, prefix=WINDOW_PREFIX) if bound else WindowForm(prefix=WINDOW_PREFIX)
        values = form.cleaned_data if form.is_bound and form.is_valid() else {}
        start, end = values.get("start"), values.get("end")
        since = None if start or end else values.get("since") or DEFAULT_SINCE
        limit = values.get("limit") or DEFAULT_LINES
        needle = values.get("q") or ""
        project_id, job_id = split_pipeline_id(pipeline.external_id)
        job = obj(obj(pipeline.raw).get("job"))
        context: dict[str, Any] = {
            "pipeline": pipeline,
            "job": job,
            "form": form,
            "since_choices": SINCE_CHOICES,
            "window": {"since": since, "start": start, "end": end, "limit": limit, "q": needle},
        }
        now = self.status_part(context, project_id, job_id, job)
        try:
            logs = self.log_window(pipeline, since=since, start=start, end=end, limit=limit, filter=needle)
            for line in logs.lines:
                line.run_url = self.run_url(job_id, line.run_id)
            context["logs"] = logs
        except ProviderError as exc:
            context["logs_error"] = f"Could not read the logs: {exc}"
        first = end - timedelta(hours=1) if end and not start else start or now - timedelta(seconds=since or 3600)
        last = end or now
        try:
            data = self.client.metrics(project_id, job_id, list(c.METRICS), Window(since=since, start=start, end=end))
            context["charts"] = [chart(n, data.get(n), first.timestamp(), last.timestamp()) for n in c.METRICS]
        except ProviderError as exc:
            context["metrics_error"] = f"Could not read the metrics: {exc}"
        context["chart_window"] = (first, last)
        return context

    def status_part(self, context: dict, project_id: str, job_id: str, job: dict) -> datetime:
        """Run counts, latest run and schedule facts into ``context``; the platform's now."""
        try:
            status = self.client.job_status(project_id, job_id)
        except ProviderError as exc:
            context["status_error"] = f"Could not read the job's status: {exc}"
            return timezone.now()
        now = self.client.server_time or timezone.now()
        counts = obj(status.get(c.RUN_COUNTS))
        context["counts"] = [(key, integer(counts.get(key)) or 0) for key in COUNT_ORDER]
        latest = obj(status.get(c.LATEST_RUN))
        if latest.get(c.RUN_ID):
            state, raw_state = run_state(latest)
            context["latest"] = {
                "run_id": text(latest.get(c.RUN_ID)),
                "state": state,
                "raw_state": raw_state,
                "trigger": text(latest.get(c.TRIGGER)),
                "created_at": timestamp(latest.get(c.CREATED_AT)),
                "finished_at": timestamp(latest.get(c.FINISHED_AT)),
                "exit_code": integer(latest.get(c.EXIT_CODE)),
                "error": text(latest.get(c.RUN_ERROR), 2000),
                "url": self.run_url(job_id, text(latest.get(c.RUN_ID))),
            }
        if text(status.get(c.SCHEDULE)) or text(job.get(c.SCHEDULE)):
            known = True
            if text(latest.get(c.TRIGGER)) == c.SCHEDULED:
                last_fire = timestamp(latest.get(c.CREATED_AT))
            else:
                try:
                    last_fire = newest_scheduled(self.client.runs(project_id, job_id))
                except ProviderError:
                    last_fire, known = None, False
            facts = schedule_facts(job, status, last_fire, now)
            if not known:  # without the runs we cannot tell; better silent than a false alarm
                facts.update(missed=False, missed_fire_at=None, missed_unknown=True)
            context["schedule"] = facts
        return now

    def run_url(self, job_id: str, run_id: str) -> str:
        if not run_id:
            return ""
        slug = self.connection.slug  # type: ignore[attr-defined]
        return reverse("build", args=[self.kind, slug, run_external_id(job_id, run_id)])
