"""Who is who: platform users, merchants, stores, terminals, consumers, API keys."""
