"""What the two web edges share: the API (``tongka.api``) and the console (``tongka.web``).

Authentication (``auth``), who is calling (``callers``), the request's unit of work and
other dependencies (``deps``), pagination (``pagination``), request shapes (``schemas``)
and ``Cache-Control: no-store`` for responses that carry a secret (``no_store``:
``SecretField`` in API models, ``@shows_secret`` on console pages). Both edges import
from here; neither imports the other.
"""
