"""pvmon."""
