"""positioning: short-interest vs price positioning divergence scanner."""

__version__ = "0.1.0"
