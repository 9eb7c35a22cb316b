"""targeting: measure customs targeting rules and decide which to promote or retire."""
from __future__ import annotations

__version__ = "0.1.0"
