"""Development tooling for `make demo`, `make test` and `make bench`; never in an image."""
