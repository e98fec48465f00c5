from .support import adapter, api, jp, jp_clock, jp_sim

__all__ = ["adapter", "api", "jp", "jp_clock", "jp_sim"]
