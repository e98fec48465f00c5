from .support import api, prunner, prunner_sim

__all__ = ["api", "prunner", "prunner_sim"]
