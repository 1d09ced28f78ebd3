from tests.orgruntime.llm.guard import guard_network  # noqa: F401  (autouse fixture)
