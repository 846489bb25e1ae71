"""Developer commands run by the Makefile (`make demo`)."""
