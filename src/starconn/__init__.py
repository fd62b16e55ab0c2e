"""starconn: star-shaped and geodesic connectivity of neural network landscapes, reproduced."""
from .params import ParamError
from .profiles import CHAPTERS, configure

__all__ = ["CHAPTERS", "ParamError", "configure"]
