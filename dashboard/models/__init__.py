from .access import ApiToken, ShareLink
from .builds import Build, Job, Log, LogChunk, Pipeline, Project, Schedule
from .connections import Connection, Health
from .infra import Agent, AgentType, Deployment, DeploymentTarget, RetentionPolicy
from .operations import ActionLog, SyncRun

__all__ = [
    "ActionLog",
    "Agent",
    "AgentType",
    "ApiToken",
    "Build",
    "Connection",
    "Deployment",
    "DeploymentTarget",
    "Health",
    "Job",
    "Log",
    "LogChunk",
    "Pipeline",
    "Project",
    "RetentionPolicy",
    "Schedule",
    "ShareLink",
    "SyncRun",
]
