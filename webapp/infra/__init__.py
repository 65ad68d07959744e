"""The machinery under the product: Redis, provider call slots, encryption of customer numbers,
health checks and the local services ``make run`` starts. No business rules here."""
