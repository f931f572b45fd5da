"""The REST API (``/v1``): thin handlers that validate, call a service, map the result."""
