from .access import ApiToken, ShareLink
from .builds import Build, Job, Log, LogChunk, Pipeline, Project, Schedule
from .connections import Connection, Health
from .feeds import FeedToken
from .infra import Agent, AgentType, Deployment, DeploymentTarget, RetentionPolicy
from .insights import (
    ALL_BRANCHES,
    ALL_PIPELINES,
    AgentHour,
    BuildDay,
    DeployDay,
    DeployEvent,
    FlakeEvent,
    InsightsSettings,
    JobDay,
    JobSpan,
    QueueDay,
    RedDay,
    RedSpell,
)
from .notify import Delivery, NotificationChannel, NotificationRule
from .operations import ActionLog, SyncRun

__all__ = [
    "ALL_BRANCHES",
    "ALL_PIPELINES",
    "ActionLog",
    "Agent",
    "AgentHour",
    "AgentType",
    "ApiToken",
    "Build",
    "BuildDay",
    "Connection",
    "Delivery",
    "DeployDay",
    "DeployEvent",
    "Deployment",
    "DeploymentTarget",
    "FeedToken",
    "FlakeEvent",
    "Health",
    "InsightsSettings",
    "Job",
    "JobDay",
    "JobSpan",
    "Log",
    "LogChunk",
    "NotificationChannel",
    "NotificationRule",
    "Pipeline",
    "Project",
    "QueueDay",
    "RedDay",
    "RedSpell",
    "RetentionPolicy",
    "Schedule",
    "ShareLink",
    "SyncRun",
]
