"""The figures of the insights pages and API, read from the rollups only: each function
is a handful of index-backed queries over per-day rows, whatever the size of the job
history."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Max, Min, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from dashboard.models import (
    ALL_BRANCHES,
    AgentHour,
    Build,
    BuildDay,
    DeployDay,
    FlakeEvent,
    Job,
    JobDay,
    JobSpan,
    Pipeline,
    Project,
    QueueDay,
    RedDay,
    RedSpell,
)

from . import buckets, merge, spans
from .scope import Scope

TOP = 10


def rate(part: int, whole: int) -> float | None:
    return round(part / whole * 100, 1) if whole else None


# Trends ---------------------------------------------------------------------------------------
COUNTS = ("builds", "passed", "failed", "canceled")


def trends_and_totals(scope: Scope, durations: bool = True, waits: bool = True) -> tuple[list[dict], dict]:
    """One row per day of the window (builds, outcomes, success rate, and duration and
    wait percentiles in seconds unless left out), and the window as a whole (histograms
    summed over every day, not percentiles averaged)."""
    per_day: dict[date, dict] = {d: {**dict.fromkeys(COUNTS, 0), "durations": {}, "waits": {}} for d in scope.dates}
    whole: dict = {**dict.fromkeys(COUNTS, 0), "durations": {}, "waits": {}}
    rows = scope.rows(BuildDay)
    for row in rows.values("day").annotate(**{f"total_{name}": Sum(name) for name in COUNTS}):
        for name in COUNTS:
            per_day[row["day"]][name] = row[f"total_{name}"]
            whole[name] += row[f"total_{name}"]
    wanted = [("duration_hist", "durations")] * durations + [("wait_hist", "waits")] * waits
    for field, name in wanted:
        for (day,), hist in merge.histograms(rows, ("day",), field).items():
            per_day[day][name] = hist
            add_cells(whole[name], hist)
    rows = [{"day": d.isoformat(), **figures(f)} for d, f in per_day.items()]
    totals = figures(whole)
    totals.pop("other")
    return rows, totals


def add_cells(total: dict[int, list[int]], hist: dict[int, list[int]]) -> None:
    for bucket, (n, ms) in hist.items():
        cell = total.setdefault(bucket, [0, 0])
        cell[0] += n
        cell[1] += ms


def figures(f: dict) -> dict:
    duration_p50, duration_p95 = buckets.percentiles(f["durations"], 0.5, 0.95)
    wait_p50, wait_p95 = buckets.percentiles(f["waits"], 0.5, 0.95)
    return {
        **{name: f[name] for name in COUNTS},
        "other": f["builds"] - f["passed"] - f["failed"] - f["canceled"],
        "success_rate": rate(f["passed"], f["passed"] + f["failed"]),
        "duration_p50": duration_p50,
        "duration_p95": duration_p95,
        "wait_p50": wait_p50,
        "wait_p95": wait_p95,
    }


def trends(scope: Scope) -> list[dict]:
    return trends_and_totals(scope)[0]


def totals(scope: Scope) -> dict:
    return trends_and_totals(scope)[1]


# Jobs -----------------------------------------------------------------------------------------
def pipelines_named(keys: Iterable[int]) -> dict[int, dict]:
    found = {}
    for p in (
        Pipeline.objects.filter(pk__in=[k for k in set(keys) if k])
        .select_related("connection")
        .only("id", "name", "external_id", "connection__kind", "connection__slug", "connection__name")
    ):
        found[p.pk] = {
            "name": p.name,
            "external_id": p.external_id,
            "url": p.get_absolute_url(),
            "connection": p.connection,
        }
    return found


def jobs_linked(ids: Iterable[int]) -> dict[int, dict]:
    jobs = (
        Job.objects.filter(pk__in=[i for i in set(ids) if i])
        .select_related("connection", "build")
        .only("id", "external_id", "connection__kind", "connection__slug", "build__external_id", "build__title")
    )
    found = {}
    for j in jobs:
        j.build.connection = j.connection
        found[j.pk] = {
            "url": j.get_absolute_url(),
            "build_url": j.build.get_absolute_url(),
            "build": j.build.title or j.build.external_id,
        }
    return found


def job_window(scope: Scope) -> list[QuerySet]:
    """The job rows that make up the window: one branch's day rows; or, for every branch,
    single days and aligned spans of days (about a dozen rows per job for 90 days)."""
    if scope.branch:
        return [scope.rows(JobDay)]
    pieces = spans.cover(scope.start, scope.end)
    days = [d for n, d in pieces if n == 1]
    blocks = Q()
    for n, d in pieces:
        if n > 1:
            blocks |= Q(span=n, start=d)
    found = []
    if days:
        found.append(scope.narrow(JobDay.objects.filter(branch=ALL_BRANCHES, pipeline_key__gte=0, day__in=days)))
    if blocks:
        found.append(scope.narrow(JobSpan.objects.filter(blocks)))
    return found


JobKey = tuple[int, str]  # pipeline key, job name


def job_counts(scope: Scope) -> dict[JobKey, dict]:
    """Every job (pipeline x job name) of the window: runs, failures, flakes (summed by
    SQL), and the range of buckets its parts' p95 fall in."""
    stats: dict[JobKey, dict] = {}
    for queryset in job_window(scope):
        for row in queryset.values("pipeline_key", "job_name").annotate(
            total_runs=Sum("runs"),
            total_failures=Sum("failures"),
            total_flaky=Sum("flaky"),
            low=Min("p95_bucket"),
            high=Max("p95_bucket"),
        ):
            s = stats.setdefault(
                (row["pipeline_key"], row["job_name"]),
                {"runs": 0, "failures": 0, "flaky": 0, "low": None, "high": None, "hist": {}},
            )
            s["runs"] += row["total_runs"]
            s["failures"] += row["total_failures"]
            s["flaky"] += row["total_flaky"]
            if row["high"] is not None:
                s["low"] = row["low"] if s["low"] is None else min(s["low"], row["low"])
                s["high"] = row["high"] if s["high"] is None else max(s["high"], row["high"])
    return stats


EXACT_KEYS = 64


def matching(queryset: QuerySet, keys: set[JobKey]) -> QuerySet:
    """Rows of these jobs: by their exact keys when few (each an index range), else a
    superset by pipeline and name (callers keep only the keys they asked for)."""
    if len(keys) > EXACT_KEYS:
        return queryset.filter(pipeline_key__in={k[0] for k in keys}, job_name__in={k[1] for k in keys})
    wanted = Q()
    for pipeline_key, name in sorted(keys):
        wanted |= Q(pipeline_key=pipeline_key, job_name=name)
    return queryset.filter(wanted)


def add_durations(scope: Scope, stats: dict[JobKey, dict], keys: set[JobKey]) -> None:
    if not keys:
        return
    for queryset in job_window(scope):
        for key, hist in merge.histograms(
            matching(queryset, keys), ("pipeline_key", "job_name"), "duration_hist"
        ).items():
            if key in keys:
                add_cells(stats[key]["hist"], hist)


def add_last_failures(scope: Scope, stats: dict[JobKey, dict], keys: set[JobKey]) -> None:
    """The latest failure of each of these jobs: its time by SQL, then the rows holding it."""
    if not keys:
        return
    latest: dict[JobKey, datetime] = {}
    for queryset in job_window(scope):
        for row in matching(queryset, keys).values("pipeline_key", "job_name").annotate(at=Max("last_failure_at")):
            key = (row["pipeline_key"], row["job_name"])
            if key in keys and row["at"] is not None and (key not in latest or row["at"] > latest[key]):
                latest[key] = row["at"]
    if not latest:
        return
    wanted = Q()
    for (pipeline_key, name), at in latest.items():
        wanted |= Q(pipeline_key=pipeline_key, job_name=name, last_failure_at=at)
    for queryset in job_window(scope):
        for pipeline_key, name, at, job_id in queryset.filter(wanted).values_list(
            "pipeline_key", "job_name", "last_failure_at", "last_failure_job"
        ):
            s = stats[(pipeline_key, name)]
            if s.get("last_failure_at") is None or (at, job_id) > (s["last_failure_at"], s["last_failure_job"]):
                s["last_failure_at"], s["last_failure_job"] = at, job_id


def job_row(key: JobKey, s: dict) -> dict:
    p50, p95 = buckets.percentiles(s["hist"], 0.5, 0.95)
    return {
        "pipeline_key": key[0],
        "job": key[1],
        "runs": s["runs"],
        "failures": s["failures"],
        "failure_rate": rate(s["failures"], s["runs"]),
        "flaky": s["flaky"],
        "flake_rate": rate(s["flaky"], s["runs"]),
        "duration_p50": p50,
        "duration_p95": p95,
        "last_failure_at": s.get("last_failure_at"),
        "last_failure_job": s.get("last_failure_job", 0),
    }


def job_stats(scope: Scope, durations: bool = True) -> list[dict]:
    """Every job of the window with every figure (``durations``: with percentiles and last
    failures; else counts only)."""
    stats = job_counts(scope)
    if durations:
        add_durations(scope, stats, set(stats))
        add_last_failures(scope, stats, set(stats))
    return [job_row(key, s) for key, s in stats.items()]


def slowest_and_failing(scope: Scope, limit: int = TOP) -> tuple[list[dict], list[dict]]:
    """The page's two job tables, reading histograms only for the jobs that can be among
    the slowest: a sum's p95 lies between its parts' p95 buckets, so a job whose highest
    part is below the ``limit``-th largest lowest part cannot make the list."""
    stats = job_counts(scope)
    timed = {k: s for k, s in stats.items() if s["high"] is not None}
    lows = sorted((s["low"] for s in timed.values()), reverse=True)
    floor = lows[limit - 1] if len(lows) >= limit else -1
    candidates = {k for k, s in timed.items() if s["high"] >= floor}
    add_durations(scope, stats, candidates)
    slowest = sorted(
        (job_row(k, stats[k]) for k in candidates), key=lambda s: (-(s["duration_p95"] or 0), -s["runs"], s["job"])
    )[:limit]
    failing_keys = sorted(
        (k for k, s in stats.items() if s["failures"]),
        key=lambda k: (-stats[k]["failures"] / stats[k]["runs"], -stats[k]["failures"], k[1]),
    )[:limit]
    add_last_failures(scope, stats, set(failing_keys))
    failing = [job_row(k, stats[k]) for k in failing_keys]
    described(slowest + failing)
    return slowest, failing


def described(rows: list[dict]) -> list[dict]:
    """Add pipeline names and links, and links to the last failures."""
    pipelines = pipelines_named(r["pipeline_key"] for r in rows)
    failures = jobs_linked(r.get("last_failure_job") for r in rows)
    for r in rows:
        p = pipelines.get(r["pipeline_key"])
        r["pipeline"] = p["name"] if p else ""
        r["pipeline_url"] = p["url"] if p else ""
        r["connection"] = p["connection"].slug if p else ""
        link = failures.get(r.get("last_failure_job") or 0)
        r["last_failure_url"] = link["url"] if link else ""
    return rows


def slowest_jobs(stats: list[dict], limit: int = TOP) -> list[dict]:
    timed = [s for s in stats if s["duration_p95"] is not None]
    return described(sorted(timed, key=lambda s: (-s["duration_p95"], -s["runs"], s["job"]))[:limit])


def failing_jobs(stats: list[dict], limit: int = TOP) -> list[dict]:
    failing = [s for s in stats if s["failures"]]
    return described(sorted(failing, key=lambda s: (-s["failure_rate"], -s["failures"], s["job"]))[:limit])


def flakiest_jobs(stats: list[dict], limit: int = 25) -> list[dict]:
    flaky = [s for s in stats if s["flaky"]]
    return described(sorted(flaky, key=lambda s: (-s["flake_rate"], -s["flaky"], s["job"]))[:limit])


# Flakes ---------------------------------------------------------------------------------------
def flake_events(scope: Scope, jobs: list[dict], per_job: int = 5) -> dict[tuple[int, str], list[dict]]:
    """The latest builds that show each of these jobs flaking."""
    if not jobs:
        return {}
    wanted = Q()
    for j in jobs:
        wanted |= Q(pipeline_key=j["pipeline_key"], job_name=j["job"])
    qs = FlakeEvent.objects.filter(day__gte=scope.start, day__lte=scope.end).filter(wanted)
    if scope.branch:
        qs = qs.filter(branch=scope.branch)
    qs = (
        scope.narrow(qs)
        .select_related("connection", "failed_build", "passed_build", "failed_job", "passed_job")
        .defer(*(f"{rel}__{f}" for rel in ("failed_build", "passed_build") for f in ("raw", "commit_message")))
        .defer("failed_job__raw", "passed_job__raw", "failed_job__depends_on", "passed_job__depends_on")
    )
    found: dict[tuple[int, str], list[dict]] = {}
    for e in qs.order_by("-failed_at", "-id")[: per_job * len(jobs) * 4]:
        shown = found.setdefault((e.pipeline_key, e.job_name), [])
        if len(shown) >= per_job:
            continue
        e.failed_job.connection = e.passed_job.connection = e.connection
        e.failed_build.connection = e.passed_build.connection = e.connection
        shown.append(
            {
                "day": e.day.isoformat(),
                "failed_at": e.failed_at,
                "kind": e.get_kind_display(),
                "commit": e.commit_sha[:7],
                "branch": e.branch,
                "failed_build": e.failed_build.title or e.failed_build.external_id,
                "failed_url": e.failed_job.get_absolute_url(),
                "passed_build": e.passed_build.title or e.passed_build.external_id,
                "passed_url": e.passed_job.get_absolute_url(),
            }
        )
    return found


def flakes_per_day(scope: Scope) -> list[dict]:
    per_day = {d: [0, 0] for d in scope.dates}
    for row in scope.rows(JobDay).values("day").annotate(flaky=Sum("flaky"), failures=Sum("failures")):
        per_day[row["day"]] = [row["flaky"], row["failures"]]
    return [{"day": d.isoformat(), "flaky": f, "failures": n} for d, (f, n) in per_day.items()]


# Time red on the default branch -------------------------------------------------------------------
def time_red(scope: Scope, now: datetime | None = None) -> list[dict]:
    """Per pipeline: how long its default branch was red within the window (closed spells
    from the per-day rows, the open spell up to now), its spells and time to fix."""
    now = now or timezone.now()
    start = datetime.combine(scope.start, time.min, tzinfo=UTC)
    days = scope.narrow(RedDay.objects.filter(day__gte=scope.start, day__lte=scope.end))
    open_spells = scope.narrow(RedSpell.objects.filter(ended_at__isnull=True, started_at__lt=now))
    if scope.branch:
        days, open_spells = days.filter(branch=scope.branch), open_spells.filter(branch=scope.branch)
    per: dict[tuple[int, str], dict] = {}

    def entry(key: tuple[int, str]) -> dict:
        return per.setdefault(
            key, {"red_ms": 0, "spells": 0, "failures": 0, "fixes": {}, "longest_ms": 0, "red_since": None}
        )

    for row in days.values("pipeline_key", "branch").annotate(
        total_red=Sum("red_ms"), ended=Sum("spells_ended"), total_failures=Sum("failures"), longest=Max("longest_ms")
    ):
        p = entry((row["pipeline_key"], row["branch"]))
        p["red_ms"] += row["total_red"]
        p["spells"] += row["ended"]
        p["failures"] += row["total_failures"]
        p["longest_ms"] = max(p["longest_ms"], row["longest"])
    for key, hist in merge.histograms(days, ("pipeline_key", "branch"), "fix_hist").items():
        add_cells(entry(key)["fixes"], hist)
    for pipeline_key, branch, started_at, failures in open_spells.values_list(
        "pipeline_key", "branch", "started_at", "failures"
    ):
        p = entry((pipeline_key, branch))
        p["red_ms"] += max(round((now - max(started_at, start)).total_seconds() * 1000), 0)
        p["spells"] += 1
        p["failures"] += failures
        p["red_since"] = started_at
    window = (min(start + timedelta(days=scope.days), now) - start).total_seconds()
    rows = [
        {
            "pipeline_key": key[0],
            "branch": key[1],
            "red_seconds": round(p["red_ms"] / 1000, 1),
            "red_share": round(p["red_ms"] / 1000 / window * 100, 1) if window > 0 else None,
            "spells": p["spells"],
            "failed_builds": p["failures"],
            "time_to_fix_p50": buckets.percentile(p["fixes"], 0.5),
            "time_to_fix_max": round(p["longest_ms"] / 1000, 1) if p["longest_ms"] else None,
            "red_since": p["red_since"],
        }
        for key, p in per.items()
        if p["red_ms"] or p["spells"]
    ]
    return described(sorted(rows, key=lambda r: (-r["red_seconds"], r["branch"])))


# Queue wait and capacity ------------------------------------------------------------------------
def queue(scope: Scope, cells: bool = True) -> dict:
    """Job waits (queued -> started): per day overall (``per_day``), per machine type for
    the window (``machines``), and with ``cells`` per day and machine type (``rows``)."""
    rows = scope.rows(QueueDay)
    per_day = {day: hist for (day,), hist in merge.histograms(rows, ("day",), "wait_hist").items()}
    machines = {name: hist for (name,), hist in merge.histograms(rows, ("machine_type",), "wait_hist").items()}
    by_cell = merge.histograms(rows, ("day", "machine_type"), "wait_hist") if cells else {}

    def waits(hist: dict) -> dict:
        p50, p95 = buckets.percentiles(hist, 0.5, 0.95)
        return {"jobs": buckets.count(hist), "wait_p50": p50, "wait_p95": p95}

    return {
        "per_day": [{"day": d.isoformat(), **waits(per_day.get(d, {}))} for d in scope.dates],
        "machines": sorted(
            ({"machine_type": name, **waits(hist)} for name, hist in machines.items()),
            key=lambda r: (-(r["wait_p95"] or 0), r["machine_type"]),
        ),
        "rows": [
            {"day": d.isoformat(), "machine_type": name, **waits(hist)} for (d, name), hist in sorted(by_cell.items())
        ],
    }


def queue_per_day(scope: Scope) -> list[dict]:
    return queue(scope)["per_day"]


def queue_by_machine(scope: Scope) -> list[dict]:
    return queue(scope)["machines"]


def capacity(scope: Scope) -> list[dict]:
    """Agents online and busy per type and day (mean of the samples; peaks; the share of
    samples in which every online agent was busy), summed by SQL from the hours."""
    start = datetime.combine(scope.start, time.min, tzinfo=UTC)
    hours = scope.narrow(AgentHour.objects.filter(hour__gte=start, hour__lt=start + timedelta(days=scope.days)))
    per_day = (
        hours.annotate(day=TruncDate("hour", tzinfo=UTC))
        .values("agent_type", "day")
        .annotate(
            total=Sum("samples"),
            online=Sum("online_sum"),
            busy=Sum("busy_sum"),
            all_busy=Sum("saturated"),
            online_peak=Max("online_max"),
            busy_peak=Max("busy_max"),
        )
        .order_by("agent_type", "day")
    )
    return [
        {
            "agent_type": p["agent_type"],
            "day": p["day"].isoformat(),
            "samples": p["total"],
            "online_avg": round(p["online"] / p["total"], 2) if p["total"] else None,
            "busy_avg": round(p["busy"] / p["total"], 2) if p["total"] else None,
            "online_max": p["online_peak"],
            "busy_max": p["busy_peak"],
            "saturated_share": rate(p["all_busy"], p["total"]),
            "sums": (p["online"], p["busy"], p["all_busy"]),
        }
        for p in per_day
    ]


def capacity_by_type(rows: list[dict]) -> dict[str, dict]:
    """The window per agent type, from the per-day rows."""
    per: dict[str, list] = {}
    for r in rows:
        t = per.setdefault(r["agent_type"], [0, 0, 0, 0, 0, 0])
        t[0] += r["samples"]
        for i, value in enumerate(r["sums"], start=1):
            t[i] += value
        t[4] = max(t[4], r["online_max"])
        t[5] = max(t[5], r["busy_max"])
    return {
        name: {
            "online_avg": round(online / samples, 2) if samples else None,
            "busy_avg": round(busy / samples, 2) if samples else None,
            "online_max": online_max,
            "busy_max": busy_max,
            "saturated_share": rate(saturated, samples),
        }
        for name, (samples, online, busy, saturated, online_max, busy_max) in per.items()
    }


# DORA -----------------------------------------------------------------------------------------
def dora(scope: Scope) -> dict:
    """The four keys per project and target, and for the whole scope, per day too."""
    rows = scope.narrow(DeployDay.objects.filter(day__gte=scope.start, day__lte=scope.end)).values(
        "connection_id",
        "project_key",
        "target_key",
        "target",
        "day",
        "deployments",
        "succeeded",
        "lead_hist",
        "restore_hist",
    )
    empty = {"deployments": 0, "succeeded": 0, "leads": {}, "restores": {}}
    overall = {**empty, "leads": {}, "restores": {}}
    groups: dict[tuple, dict] = {}
    per_day = {d: [0, 0] for d in scope.dates}
    for r in rows:
        group = groups.setdefault(
            (r["connection_id"], r["project_key"], r["target_key"]),
            {**empty, "leads": {}, "restores": {}, "target": r["target"], "project_key": r["project_key"]},
        )
        for total in (group, overall):
            total["deployments"] += r["deployments"]
            total["succeeded"] += r["succeeded"]
            buckets.add(total["leads"], r["lead_hist"])
            buckets.add(total["restores"], r["restore_hist"])
        per_day[r["day"]][0] += r["succeeded"]
        per_day[r["day"]][1] += r["deployments"] - r["succeeded"]
    projects = dict(
        Project.objects.filter(pk__in={g["project_key"] for g in groups.values()}).values_list("pk", "name")
    )
    targets = sorted(
        (
            {"project": projects.get(g["project_key"], ""), "target": g["target"], **four_keys(g, scope.days)}
            for g in groups.values()
        ),
        key=lambda t: (t["project"], t["target"]),
    )
    return {
        "overall": four_keys(overall, scope.days),
        "targets": targets,
        "per_day": [{"day": d.isoformat(), "succeeded": s, "failed": f} for d, (s, f) in per_day.items()],
    }


def four_keys(total: dict, days: int) -> dict:
    failed = total["deployments"] - total["succeeded"]
    return {
        "deployments": total["deployments"],
        "succeeded": total["succeeded"],
        "failed": failed,
        "per_day": round(total["succeeded"] / days, 2),
        "lead_time_p50": buckets.percentile(total["leads"], 0.5),
        "change_failure_rate": rate(failed, total["deployments"]),
        "time_to_restore_p50": buckets.percentile(total["restores"], 0.5),
    }


# The build page --------------------------------------------------------------------------------
USUAL_DAYS = 30


def usual_for_build(build: Build, jobs: list[Job], today: date | None = None) -> dict[int, dict]:
    """For each job of a build: its usual (p50) duration over the last 30 days of its
    pipeline, whether it is known flaky, and whether this very failure was a flake.
    Three queries, whatever the number of jobs."""
    if not jobs:
        return {}
    names = {j.name for j in jobs}
    scope = Scope(days=USUAL_DAYS, end=today or timezone.now().date())
    scope.connection_ids, scope.pipeline_keys = [build.connection_id], [build.pipeline_id or 0]
    stats: dict[str, dict] = {}
    for queryset in job_window(scope):
        for row in queryset.filter(job_name__in=names).values("job_name", "runs", "flaky", "duration_hist"):
            s = stats.setdefault(row["job_name"], {"runs": 0, "flaky": 0, "hist": {}})
            s["runs"] += row["runs"]
            s["flaky"] += row["flaky"]
            buckets.add(s["hist"], row["duration_hist"])
    flaked = dict(
        FlakeEvent.objects.filter(failed_job_id__in=[j.pk for j in jobs]).values_list("failed_job_id", "passed_job_id")
    )
    found = {}
    for j in jobs:
        s = stats.get(j.name)
        p50 = buckets.percentile(s["hist"], 0.5) if s else None
        took = j.duration.total_seconds() if j.duration else None
        found[j.pk] = {
            "p50": p50,
            "runs": s["runs"] if s else 0,
            "flaky": s["flaky"] if s else 0,
            "flake_rate": rate(s["flaky"], s["runs"]) if s else None,
            "this_flaked": j.pk in flaked,
            "took": took,
            "slower": bool(p50 and took and took > 1.5 * p50),
        }
    return found
