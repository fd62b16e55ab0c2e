"""starconn: star-shaped and geodesic connectivity of neural network landscapes, reproduced."""
from .errors import ParamError
from .profiles import CHAPTERS, configure

__all__ = ["CHAPTERS", "ParamError", "configure"]
