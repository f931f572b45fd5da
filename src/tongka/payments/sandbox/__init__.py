"""The sandbox payment gateway (``tongka sandbox-gateway``): see ``app.create_gateway``."""
