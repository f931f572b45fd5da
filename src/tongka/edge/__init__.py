"""What the two web edges share: the API (``tongka.api``) and the console (``tongka.web``).

Authentication (``auth``), who is calling (``callers``), the request's unit of work and
other dependencies (``deps``), pagination (``pagination``) and request shapes
(``schemas``). Both edges import from here; neither imports the other.
"""
