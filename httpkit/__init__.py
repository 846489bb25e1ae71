"""The HTTP pieces both services share: problem details, the body limit, the app's frame."""
