"""Kept so existing imports keep working: ``SecretBox`` lives in ``tongka.crypto`` now."""

from tongka.crypto import SecretBox

__all__ = ["SecretBox"]
