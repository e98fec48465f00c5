"""Insights: rollups of the build history that the sync keeps current, so every insights
page reads a few hundred summary rows instead of scanning jobs; and the one setting an
admin gives per connection (which branch is the default, which pipelines or jobs deploy).

Rollup rows name their project and pipeline by primary key in plain integer columns
(``project_key``, ``pipeline_key``; 0 means "none"), not foreign keys: a key must be
part of a unique constraint, and NULLs are never equal there.

Rows whose ``branch`` is ``ALL_BRANCHES`` hold the sum over every branch of their
pipeline and day, so a page without a branch filter reads one row per pipeline and day.
``*`` is not allowed in git ref names, so no real branch can collide with it. Build and
queue rows go one step further: ``pipeline_key = ALL_PIPELINES`` rows sum every pipeline
of a project (or, with ``project_key = ALL_PIPELINES`` too, of the whole connection) per
day, and ``JobSpan`` sums job rows over aligned spans of days, so a 90-day page reads
about a dozen rows per job.

No rollup indexes its connection on its own: each has an index or unique key that
begins with the connection, and a second index would only cost every write."""

from django.db import models

from .builds import Build, Job
from .connections import Connection
from .infra import Deployment

ALL_BRANCHES = "*"
ALL_PIPELINES = -1


class InsightsSettings(models.Model):
    """Per connection: which branch is "main" and which pipelines or jobs deploy (for
    providers without deployment history, the way DevLake configures it)."""

    connection = models.OneToOneField(Connection, on_delete=models.CASCADE, related_name="insights_settings")
    default_branch = models.CharField(
        max_length=255,
        blank=True,
        help_text='Branch whose time red is measured. Blank: the pipeline\'s own default (Harmont), else "main" '
        'and "master".',
    )
    deploy_pipelines = models.TextField(
        blank=True,
        help_text="Names of pipelines whose builds are deployments, one pattern a line; * and ? are wildcards "
        "(e.g. deploy-*). Each pipeline is a deployment target.",
    )
    deploy_jobs = models.TextField(
        blank=True,
        help_text="Names of jobs that deploy, one pattern a line (e.g. Deploy to *). Each job name is a target.",
    )

    class Meta:
        verbose_name = "insights settings"
        verbose_name_plural = "insights settings"

    def __str__(self) -> str:
        return f"insights settings of {self.connection}"


class DayRollup(models.Model):
    """The key every per-day rollup shares."""

    connection = models.ForeignKey(Connection, db_index=False, on_delete=models.CASCADE, related_name="+")
    project_key = models.BigIntegerField(default=0, help_text="Project primary key; 0: none.")
    pipeline_key = models.BigIntegerField(default=0, help_text="Pipeline primary key; 0: none.")
    branch = models.CharField(max_length=255, help_text=f'"{ALL_BRANCHES}": every branch together.')
    day = models.DateField(help_text="The day (UTC) the builds were created.")

    class Meta:
        abstract = True
        indexes = [
            models.Index(fields=["connection", "branch", "day"], name="%(class)s_conn"),
            models.Index(fields=["project_key", "branch", "day"], name="%(class)s_project"),
            models.Index(fields=["branch", "day"], name="%(class)s_all"),
        ]

    def __str__(self) -> str:
        return f"{self.branch} on {self.day}"


class BuildDay(DayRollup):
    """Builds of one project x pipeline x branch x day: outcomes, durations (started ->
    finished) and waits (created -> started) as log-scale histograms."""

    builds = models.PositiveIntegerField(default=0, help_text="Builds created, in any state.")
    passed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    canceled = models.PositiveIntegerField(default=0)
    duration_hist = models.JSONField(default=dict, blank=True)
    wait_hist = models.JSONField(default=dict, blank=True)

    class Meta(DayRollup.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["pipeline_key", "branch", "day", "connection", "project_key"], name="buildday_unique"
            )
        ]


class JobDay(DayRollup):
    """Jobs of one name in one project x pipeline x branch x day."""

    job_name = models.CharField(max_length=255)
    runs = models.PositiveIntegerField(default=0, help_text="Jobs that passed or failed.")
    failures = models.PositiveIntegerField(default=0)
    flaky = models.PositiveIntegerField(default=0, help_text="Failures that passed on a later try of the same commit.")
    duration_hist = models.JSONField(default=dict, blank=True)
    p95_bucket = models.SmallIntegerField(
        null=True, blank=True, help_text="The histogram bucket of this row's own p95 (bounds a sum's p95)."
    )
    last_failure_job = models.BigIntegerField(default=0, help_text="Job primary key of the latest failure; 0: none.")
    last_failure_at = models.DateTimeField(null=True, blank=True)

    class Meta(DayRollup.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["pipeline_key", "branch", "day", "job_name", "connection", "project_key"], name="jobday_unique"
            )
        ]


class JobSpan(models.Model):
    """Every-branch JobDay rows of a pipeline and job summed over an aligned span of 2, 4,
    ... 64 days (``start``'s ordinal is a multiple of ``span``): any window is a few spans."""

    connection = models.ForeignKey(Connection, db_index=False, on_delete=models.CASCADE, related_name="+")
    project_key = models.BigIntegerField(default=0)
    pipeline_key = models.BigIntegerField(default=0)
    job_name = models.CharField(max_length=255)
    span = models.PositiveSmallIntegerField(help_text="Days: 2, 4, 8, 16, 32 or 64.")
    start = models.DateField()
    runs = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    flaky = models.PositiveIntegerField(default=0)
    duration_hist = models.JSONField(default=dict, blank=True)
    p95_bucket = models.SmallIntegerField(null=True, blank=True)
    last_failure_job = models.BigIntegerField(default=0)
    last_failure_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["pipeline_key", "span", "start", "job_name", "connection", "project_key"], name="jobspan_unique"
            )
        ]
        indexes = [
            models.Index(fields=["connection", "span", "start"], name="jobspan_conn"),
            models.Index(fields=["project_key", "span", "start"], name="jobspan_project"),
            models.Index(fields=["span", "start"], name="jobspan_all"),
        ]

    def __str__(self) -> str:
        return f"{self.job_name}: {self.span} days from {self.start}"


class QueueDay(DayRollup):
    """How long jobs waited to start (created -> started), per machine or agent type."""

    machine_type = models.CharField(max_length=255, blank=True, help_text="As the provider names it; blank: unknown.")
    jobs = models.PositiveIntegerField(default=0)
    wait_hist = models.JSONField(default=dict, blank=True)

    class Meta(DayRollup.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["pipeline_key", "branch", "day", "machine_type", "connection", "project_key"],
                name="queueday_unique",
            )
        ]


class FlakeEvent(models.Model):
    """A job that failed and later passed for the same commit (or in the same build)."""

    class Kind(models.TextChoices):
        RETRY = "retry", "retried in the same build"
        REBUILD = "rebuild", "rebuilt in the same workflow"
        RERUN = "rerun", "run again for the same commit"

    connection = models.ForeignKey(Connection, db_index=False, on_delete=models.CASCADE, related_name="+")
    project_key = models.BigIntegerField(default=0)
    pipeline_key = models.BigIntegerField(default=0)
    branch = models.CharField(max_length=255)
    day = models.DateField(help_text="The day the failed build was created.")
    job_name = models.CharField(max_length=255)
    failed_job = models.OneToOneField(Job, on_delete=models.CASCADE, related_name="+")
    failed_build = models.ForeignKey(Build, on_delete=models.CASCADE, related_name="+")
    passed_job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="+")
    passed_build = models.ForeignKey(Build, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    commit_sha = models.CharField(max_length=64, blank=True)
    failed_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["connection", "day"], name="flake_conn_day"),
            models.Index(fields=["pipeline_key", "day"], name="flake_pipeline_day"),
            models.Index(fields=["project_key", "day"], name="flake_project_day"),
            models.Index(fields=["day"], name="flake_day"),
        ]

    def __str__(self) -> str:
        return f"{self.job_name} flaked at {self.failed_at:%Y-%m-%d %H:%M}"


class RedSpell(models.Model):
    """A stretch of red on a default branch: from the first failed build to the next
    passing one (by finish time); open while the branch is still red."""

    connection = models.ForeignKey(Connection, db_index=False, on_delete=models.CASCADE, related_name="+")
    project_key = models.BigIntegerField(default=0)
    pipeline_key = models.BigIntegerField(default=0)
    branch = models.CharField(max_length=255)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    first_failure = models.OneToOneField(Build, on_delete=models.CASCADE, related_name="+")
    fixed_by = models.ForeignKey(Build, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    failures = models.PositiveIntegerField(default=1)

    class Meta:
        indexes = [
            models.Index(fields=["connection", "pipeline_key", "branch", "started_at"], name="redspell_pipeline"),
            models.Index(fields=["ended_at"], name="redspell_ended"),
        ]

    def __str__(self) -> str:
        return f"{self.branch} red from {self.started_at:%Y-%m-%d %H:%M}"


class RedDay(models.Model):
    """Time red per default-branch pipeline and day, from the closed spells: the part of
    the day inside a spell, and the spells that ended that day (how many, their failed
    builds, how long each took to fix). Open spells are added when a page is read."""

    connection = models.ForeignKey(Connection, db_index=False, on_delete=models.CASCADE, related_name="+")
    project_key = models.BigIntegerField(default=0)
    pipeline_key = models.BigIntegerField(default=0)
    branch = models.CharField(max_length=255)
    day = models.DateField()
    red_ms = models.BigIntegerField(default=0, help_text="Milliseconds of the day inside closed spells.")
    spells_ended = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0, help_text="Failed builds of the spells that ended.")
    fix_hist = models.JSONField(default=dict, blank=True, help_text="Lengths of the spells that ended.")
    longest_ms = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["pipeline_key", "branch", "day", "connection", "project_key"], name="redday_unique"
            )
        ]
        indexes = [
            models.Index(fields=["connection", "day"], name="redday_conn"),
            models.Index(fields=["project_key", "day"], name="redday_project"),
            models.Index(fields=["day"], name="redday_all"),
        ]

    def __str__(self) -> str:
        return f"{self.branch} red on {self.day}"


class DeployEvent(models.Model):
    """One finished deployment, from a provider's deployment history or from a build or
    job an admin's pattern marks as deploying; the facts DORA's four keys need."""

    class Source(models.TextChoices):
        DEPLOYMENT = "deployment", "deployment history"
        PIPELINE = "pipeline", "deploying pipeline"
        JOB = "job", "deploying job"

    connection = models.ForeignKey(Connection, db_index=False, on_delete=models.CASCADE, related_name="+")
    project_key = models.BigIntegerField(default=0)
    target = models.CharField(max_length=255, help_text="Deployment target, pipeline or job name.")
    target_key = models.CharField(max_length=300, help_text="Identifies the target within the connection.")
    source = models.CharField(max_length=16, choices=Source.choices)
    deployment = models.OneToOneField(Deployment, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    build = models.ForeignKey(Build, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    job = models.OneToOneField(Job, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField(help_text="When it finished (or was triggered, when that is all we know).")
    day = models.DateField()
    succeeded = models.BooleanField()
    commit_sha = models.CharField(max_length=64, blank=True)
    lead_seconds = models.FloatField(null=True, blank=True, help_text="First pipeline of the commit -> deployed.")
    restore_seconds = models.FloatField(
        null=True, blank=True, help_text="On the first failure of a streak: until the next success on the target."
    )

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["build"], condition=models.Q(source="pipeline"), name="deployevent_unique_pipeline_build"
            )
        ]
        indexes = [
            models.Index(fields=["connection", "day"], name="deploy_conn_day"),
            models.Index(fields=["project_key", "day"], name="deploy_project_day"),
            models.Index(fields=["day"], name="deploy_day"),
            models.Index(fields=["connection", "target_key", "at"], name="deploy_target"),
            models.Index(fields=["connection", "commit_sha"], name="deploy_commit"),
        ]

    def __str__(self) -> str:
        return f"{self.target} {'ok' if self.succeeded else 'failed'} at {self.at:%Y-%m-%d %H:%M}"


class DeployDay(models.Model):
    """Deployments of one target and day, for DORA pages: counts, and lead times and
    times to restore as log-scale histograms."""

    connection = models.ForeignKey(Connection, db_index=False, on_delete=models.CASCADE, related_name="+")
    project_key = models.BigIntegerField(default=0)
    target = models.CharField(max_length=255)
    target_key = models.CharField(max_length=300)
    day = models.DateField()
    deployments = models.PositiveIntegerField(default=0)
    succeeded = models.PositiveIntegerField(default=0)
    lead_hist = models.JSONField(default=dict, blank=True)
    restore_hist = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "target_key", "day", "project_key"], name="deployday_unique")
        ]
        indexes = [
            models.Index(fields=["connection", "day"], name="deployday_conn"),
            models.Index(fields=["project_key", "day"], name="deployday_project"),
            models.Index(fields=["day"], name="deployday_all"),
        ]

    def __str__(self) -> str:
        return f"{self.target} on {self.day}"


class AgentHour(models.Model):
    """Self-hosted agents of one type, sampled at every sync and summed per hour: the
    provider only ever shows the current agents, so this is the only history of them."""

    connection = models.ForeignKey(Connection, db_index=False, on_delete=models.CASCADE, related_name="+")
    agent_type = models.CharField(max_length=255)
    hour = models.DateTimeField()
    samples = models.PositiveIntegerField(default=0)
    online_sum = models.PositiveIntegerField(default=0)
    busy_sum = models.PositiveIntegerField(default=0)
    online_max = models.PositiveIntegerField(default=0)
    busy_max = models.PositiveIntegerField(default=0)
    saturated = models.PositiveIntegerField(default=0, help_text="Samples in which every online agent was busy.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "agent_type", "hour"], name="agenthour_unique"),
        ]
        indexes = [
            models.Index(fields=["connection", "hour"], name="agenthour_conn_hour"),
            models.Index(fields=["hour"], name="agenthour_hour"),
        ]

    def __str__(self) -> str:
        return f"{self.agent_type} at {self.hour:%Y-%m-%d %H:00}"
