"""`python -m admin`: issue, revoke and list the access keys of tills and owners."""
