from collections.abc import Iterator

import psycopg
from django.db import connection as db
from django.db import models
from isal.isal_zlib import decompress as inflate  # zlib's format, inflated several times faster

from dashboard.states import FINISHED, State

from .base import ProviderRow


class Project(ProviderRow):
    name = models.CharField(max_length=255)
    keep_when_gone = True
    page_name = "project"

    class Meta(ProviderRow.Meta):
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Pipeline(ProviderRow):
    """A build definition: a Semaphore YAML file, a Harmont pipeline, a prunner pipeline."""

    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.CASCADE)
    name = models.CharField(max_length=255)
    keep_when_gone = True
    page_name = "pipeline"

    class Meta(ProviderRow.Meta):
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Schedule(ProviderRow):
    """Something that starts builds on a clock: a cron job, a Semaphore task."""

    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.CASCADE)
    pipeline = models.ForeignKey(Pipeline, null=True, blank=True, on_delete=models.CASCADE)
    name = models.CharField(max_length=255)
    cron = models.CharField(max_length=255, blank=True)
    timezone = models.CharField(max_length=64, blank=True)
    enabled = models.BooleanField(default=True)
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)

    class Meta(ProviderRow.Meta):
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.cron})"

    def get_absolute_url(self) -> str:
        if self.pipeline_id:
            return self.pipeline.get_absolute_url()
        return self.section_url("#schedules")


class BuildQuerySet(models.QuerySet):
    def listed(self) -> "BuildQuerySet":
        """Builds as the API lists them (``BuildSerializer``): only the columns it shows,
        with the names of their connection, project and pipeline. Making each instance
        costs per column read (every raw JSON document parsed, the connection's token
        decrypted), and a page makes fifty of each."""
        return self.select_related("connection", "project", "pipeline").only(*LISTED_FIELDS)

    def rows(self) -> "BuildQuerySet":
        """Builds as a table row draws them (``build_row``, the overview's "running now"):
        only the columns shown, with the names of their connection, project and pipeline.
        Making each instance costs per column read, and a page makes fifty."""
        return self.select_related("connection", "project", "pipeline").only(*ROW_FIELDS)


# What ``BuildQuerySet.listed`` reads.
LISTED_FIELDS = (
    *("external_id", "number", "title", "group_id", "branch", "commit_sha", "triggered_by"),
    *("state", "raw_state", "created_at", "started_at", "finished_at", "web_url", "gone"),
    *("connection__kind", "connection__slug", "project__name", "pipeline__name"),
)
# What ``BuildQuerySet.rows`` reads.
ROW_FIELDS = (
    *("external_id", "number", "title", "branch", "commit_sha", "state", "raw_state", "gone"),
    *("created_at", "started_at", "finished_at"),
    *("connection__kind", "connection__slug", "connection__name", "project__name", "pipeline__name"),
)


class Build(ProviderRow):
    """One run of a pipeline, whatever the provider calls it."""

    objects = BuildQuerySet.as_manager()

    # Both indexed as the first column of the recent-builds indexes below.
    project = models.ForeignKey(Project, null=True, blank=True, db_index=False, on_delete=models.SET_NULL)
    pipeline = models.ForeignKey(Pipeline, null=True, blank=True, db_index=False, on_delete=models.SET_NULL)
    number = models.CharField(max_length=64, blank=True, help_text="The provider's human label (#42).")
    title = models.CharField(max_length=500, blank=True)
    group_id = models.CharField(max_length=255, blank=True, help_text="Workflow or similar grouping id.")
    branch = models.CharField(max_length=255, blank=True)
    commit_sha = models.CharField(max_length=64, blank=True)
    commit_message = models.TextField(blank=True)
    triggered_by = models.CharField(max_length=255, blank=True)
    state = models.CharField(max_length=16, choices=State.choices)
    raw_state = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(db_index=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    web_url = models.URLField(max_length=500, blank=True)
    # Finished builds are read again only when something is missing (jobs never read, a
    # state we did not know) or they were marked gone: at this time, with back-off.
    recheck_at = models.DateTimeField(null=True, blank=True, editable=False)
    recheck_attempts = models.PositiveSmallIntegerField(default=0, editable=False)
    keep_when_gone = True
    page_name = "build"

    class Meta(ProviderRow.Meta):
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="build_recent"),
            models.Index(fields=["connection", "-created_at", "-id"], name="build_conn_recent"),
            models.Index(fields=["project", "-created_at", "-id"], name="build_project_recent"),
            models.Index(fields=["state", "-created_at", "-id"], name="build_state_recent"),
            models.Index(fields=["branch", "-created_at", "-id"], name="build_branch_recent"),
            models.Index(fields=["pipeline", "-created_at", "-id"], name="build_pipeline_recent"),
            models.Index(fields=["connection", "recheck_at"], name="build_recheck"),
            # Found by the provider's own id in any connection (the search box, the jobs API).
            models.Index(fields=["external_id"], name="build_external_id"),
            models.Index(fields=["finished_at"], name="build_finished"),
            models.Index(fields=["-created_at", "-id"], name="build_gone_recent", condition=models.Q(gone=True)),
            # The newest build of each pipeline x branch (CCTray feed, badges, notifications).
            models.Index(fields=["pipeline", "branch", "-created_at", "-id"], name="build_pipeline_branch_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.pipeline or self.project or ''} {self.number}".strip()

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class Job(ProviderRow):
    # Indexed as the first column of (build, position) below; so are the keys of a log's
    # chunks (the unique (log, start)), a deployment's target and a sync run's connection.
    build = models.ForeignKey(Build, db_index=False, on_delete=models.CASCADE, related_name="jobs")
    name = models.CharField(max_length=255)
    group = models.CharField(max_length=255, blank=True, help_text="Block, stage or similar.")
    position = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=16, choices=State.choices)
    raw_state = models.CharField(max_length=64, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    created_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    depends_on = models.JSONField(default=list, blank=True, help_text="External ids of jobs this one waits for.")
    allowed_failure = models.BooleanField(default=False, help_text="Failed, but the build was allowed to go on.")
    keep_when_gone = True
    page_name = "job"

    class Meta(ProviderRow.Meta):
        ordering = ["position", "id"]
        indexes = [
            models.Index(fields=["build", "position"], name="job_build_position"),
            # The jobs API lists newest first (by id) under each of its filters.
            models.Index(fields=["state", "-id"], name="job_state_recent"),
            models.Index(fields=["name", "-id"], name="job_name_recent"),
            models.Index(fields=["started_at"], name="job_started"),
            models.Index(fields=["-id"], name="job_allowed_failure_recent", condition=models.Q(allowed_failure=True)),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


# Stored log chunks read per query while streaming a log (each holds at most 64 KB of
# text, compressed): a few, since the default of an iterator (2000) would hold tens of MB.
CHUNKS_PER_FETCH = 32


class Log(models.Model):
    """A job's output, kept as compressed chunks so it is appended to while the job runs
    and streamed out without ever being held whole in memory."""

    job = models.OneToOneField(Job, on_delete=models.CASCADE, related_name="log")
    size = models.BigIntegerField(default=0, help_text="Bytes of text stored so far.")
    complete = models.BooleanField(default=False)
    cursor = models.JSONField(default=dict, blank=True, help_text="Where the provider's log resumes.")
    fetched_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"log of {self.job_id} ({self.size} bytes)"

    def chunks_from(self, offset: int = 0) -> Iterator[str]:
        """Yield decompressed text from byte ``offset`` on, one stored chunk at a time."""
        for start, packed in self.packed_chunks(offset):
            data = inflate(packed)
            if offset > start:
                data = data[offset - start :]
            if data:
                yield data.decode("utf-8", "replace")

    def packed_chunks(self, offset: int = 0, end: int | None = None) -> Iterator[tuple[int, bytes]]:
        """``(start, compressed bytes)`` of each stored chunk holding bytes from ``offset``
        on (and before ``end``), in order, CHUNKS_PER_FETCH chunks per query."""
        first = 0
        if offset:
            first = self.chunks.filter(start__lte=offset).order_by("-start").values_list("start", flat=True).first()
            first = first or 0
        while True:
            rows = _chunk_rows(self.pk, first, end)
            yield from rows
            if len(rows) < CHUNKS_PER_FETCH:
                return
            first = rows[-1][0] + 1


def _chunk_rows(log_id: int, first: int, end: int | None) -> list[tuple[int, bytes]]:
    """The next chunks of a log starting at or after ``first`` (and before ``end``)."""
    rows = LogChunk.objects.filter(log_id=log_id, start__gte=first)
    if end is not None:
        rows = rows.filter(start__lt=end)
    rows = rows.order_by("start").values_list("start", "data")[:CHUNKS_PER_FETCH]
    if db.vendor != "postgresql":
        return [(start, bytes(data)) for start, data in rows]
    # The same query, its results in binary: Django's cursors take results as text,
    # where bytea arrives hex-encoded (twice its size, then decoded), which made reading
    # a long log four times slower. A psycopg cursor of its own on Django's connection
    # (so inside the same transaction); Django's query log and database metrics do not
    # see this query.
    sql, params = rows.query.sql_with_params()
    db.ensure_connection()
    with db.wrap_database_errors, psycopg.Cursor(db.connection) as cursor:
        cursor.execute(sql, params, binary=True)
        return cursor.fetchall()


class LogChunk(models.Model):
    log = models.ForeignKey(Log, db_index=False, on_delete=models.CASCADE, related_name="chunks")
    start = models.BigIntegerField(help_text="Byte offset of this chunk in the whole log.")
    size = models.IntegerField()
    data = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["log", "start"], name="logchunk_unique_start")]

    def __str__(self) -> str:
        return f"{self.log_id}@{self.start}"
