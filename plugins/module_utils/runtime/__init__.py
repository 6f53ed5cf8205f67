"""berth's OCI runtime: executes any valid runtime-spec bundle (config.json + root).

Only the standard library is imported on the runtime's paths (no pydantic),
because every ``berth-runtime`` invocation is a fresh interpreter and its
start-up time is the container's start-up time.
"""
