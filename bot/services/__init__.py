"""Use cases: async functions that take a database session and inputs."""
