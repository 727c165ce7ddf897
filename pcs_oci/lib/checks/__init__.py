"""verify's checks, grouped by what they look at."""
