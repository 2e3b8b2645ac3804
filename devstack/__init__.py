"""devstack: runs idgate on one machine, with no AWS account and no Docker.

Local glue only, kept apart from the application code: a template reader (`template`), an in-process AWS
endpoint (`aws`, moto in server mode), the Lambda handlers loaded in-process (`lambdas`), resource creation
(`provision`), an API Gateway HTTP API emulator (`gateway`), an email printer (`mail`) and the whole stack
(`stack`, `python -m devstack`).
"""
