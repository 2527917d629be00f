"""dividends package."""
