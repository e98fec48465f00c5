from .access import ApiToken, ShareLink
from .builds import Build, Job, Log, LogChunk, Pipeline, Project, Schedule
from .connections import Connection, Health
from .feeds import FeedToken
from .infra import Agent, AgentType, Deployment, DeploymentTarget, RetentionPolicy
from .notify import Delivery, NotificationChannel, NotificationRule
from .operations import ActionLog, SyncRun

__all__ = [
    "ActionLog",
    "Agent",
    "AgentType",
    "ApiToken",
    "Build",
    "Connection",
    "Delivery",
    "Deployment",
    "DeploymentTarget",
    "FeedToken",
    "Health",
    "Job",
    "Log",
    "LogChunk",
    "NotificationChannel",
    "NotificationRule",
    "Pipeline",
    "Project",
    "RetentionPolicy",
    "Schedule",
    "ShareLink",
    "SyncRun",
]
