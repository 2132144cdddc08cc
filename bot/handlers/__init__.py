"""Platform-neutral handlers: Interaction in, service calls, Replies out."""
