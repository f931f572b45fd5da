"""Tongka (通卡): a platform for prepaid stored-value cards."""

__version__ = "0.1.0"
