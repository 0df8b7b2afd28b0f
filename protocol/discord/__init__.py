"""Sans-IO Discord: models, gateway session machine, REST rate limits, limits and chunking."""
