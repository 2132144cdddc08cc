"""The scheduler: the leader's tick turns schedules into outbox rows; every instance dispatches."""
