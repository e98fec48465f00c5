"""What the feed and badges should say, worked out the slow, obvious way from every
stored build (the code under test does it in one query)."""

from collections import defaultdict

from dashboard.models import Build

VERDICTS = ("passed", "failed")


def pairs(**filters) -> dict[str, dict]:
    """Feed name -> what its <Project> must say."""
    groups = defaultdict(list)
    for build in Build.objects.filter(pipeline__isnull=False, gone=False, **filters).select_related(
        "connection", "project", "pipeline"
    ):
        groups[(build.pipeline_id, build.branch)].append(build)
    out = {}
    for builds in groups.values():
        builds.sort(key=lambda b: (b.created_at, b.pk))
        newest = builds[-1]
        verdicts = [b for b in builds if b.state in VERDICTS]
        last = verdicts[-1] if verdicts else newest
        project = newest.pipeline.project or newest.project
        name = " / ".join(
            p
            for p in (newest.connection.slug, project.name if project else "", newest.pipeline.name, newest.branch)
            if p
        )
        out[name] = {
            "status": {"passed": "Success", "failed": "Failure"}[verdicts[-1].state] if verdicts else "Unknown",
            "activity": {"running": "Building", "queued": "CheckingModifications"}.get(newest.state, "Sleeping"),
            "label": last.number or last.external_id,
            "time": last.finished_at or last.created_at,
            "newest": newest,
        }
    return out
