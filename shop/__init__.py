"""The shop's rules that every deployable applies alike: the API, the loader and SQL."""
