"""Preference tuning after SFT (DPO, Rafailov et al. 2023): `build` (the resumable lab behind
`python -m training dpo`) and `headline` (what the command prints). Importable without torch."""

from .build import build, headline

__all__ = ["build", "headline"]
