"""What the services tell the people who run them: structured logs, metrics, request context."""
