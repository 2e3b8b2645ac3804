"""AWS list prices (us-east-1, on demand, without free tiers), the one place `make bench` reads them from.

Checked against the AWS pricing pages in November 2026. Change them here, and the cost table that
`make bench` prints (and README's copy of it) follows.
"""

from __future__ import annotations

#: Step Functions Standard: per state transition ($0.025 per 1,000).
STANDARD_TRANSITION = 0.025 / 1_000
#: Step Functions Express: per execution ($1.00 per million) and per GB-second of duration, billed in
#: 64 MB chunks and rounded up to 100 ms ($0.00001667 per GB-second, the first 1,000 GB-hours a month).
EXPRESS_REQUEST = 1.00 / 1_000_000
EXPRESS_GB_SECOND = 0.00001667
EXPRESS_MEMORY_GB = 64 / 1024
#: Lambda on arm64: per request ($0.20 per million) and per GB-second ($0.0000133334), billed per ms.
LAMBDA_REQUEST = 0.20 / 1_000_000
LAMBDA_GB_SECOND = 0.0000133334
#: DynamoDB on demand: per write request unit ($0.625 per million) and read request unit ($0.125 per
#: million). Lambda's reads of the table's stream are free.
DYNAMODB_WRITE_UNIT = 0.625 / 1_000_000
DYNAMODB_READ_UNIT = 0.125 / 1_000_000
#: API Gateway HTTP API: per request ($1.00 per million, the first 300 million a month).
HTTP_API_REQUEST = 1.00 / 1_000_000
#: EventBridge: per custom event put ($1.00 per million).
EVENTBRIDGE_EVENT = 1.00 / 1_000_000
