"""Signed webhooks to the integrator's backend (Standard Webhooks): endpoints, the deliveries the sessions
table's change stream starts, their retries through SQS, and the checks that keep idgate from calling what it
must not."""
