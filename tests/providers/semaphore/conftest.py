from .support import adapter, api, project_id, synced

__all__ = ["adapter", "api", "project_id", "synced"]
