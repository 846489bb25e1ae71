"""The analytics service: what the sales say, for the owners."""
