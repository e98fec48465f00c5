from .builds import Build, Job, Log, LogChunk, Pipeline, Project, Schedule
from .connections import Connection, Health
from .operations import ActionLog, SyncRun

__all__ = [
    "ActionLog",
    "Build",
    "Connection",
    "Health",
    "Job",
    "Log",
    "LogChunk",
    "Pipeline",
    "Project",
    "Schedule",
    "SyncRun",
]
