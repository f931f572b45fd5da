"""Console page modules (one per area); listed in ``tongka.web.PAGE_MODULES``."""
