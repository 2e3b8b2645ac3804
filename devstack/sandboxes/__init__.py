"""Local stand-ins for the identity providers, used by the devstack (never deployed)."""
