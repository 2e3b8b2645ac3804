"""idgate: one API in front of identity-verification providers, with normalized, write-once results."""

__version__ = "0.1.0"
