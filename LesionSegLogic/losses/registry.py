"""Build losses by name; the table of every loss with its formula, parameters, defaults and source.

``build_loss("tversky", alpha=0.3, beta=0.7)`` → a ``torch.nn.Module`` called ``loss(logits, target)``.
Unknown names and parameters raise :class:`~LesionSegLogic.errors.ConfigError` listing what is accepted.
The parameter defaults shown by :func:`loss_table` are read from the constructors, never typed twice.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

from LesionSegLogic.errors import ConfigError
from LesionSegLogic.losses.base import BinaryLoss
from LesionSegLogic.losses.compound import ComboLoss, DiceCELoss, DiceFocalLoss, HyTverLoss
from LesionSegLogic.losses.crossentropy import BCELoss, WeightedBCELoss
from LesionSegLogic.losses.focal import FocalLoss
from LesionSegLogic.losses.overlap import (
    DiceLoss,
    FocalTverskyLoss,
    GeneralizedDiceLoss,
    LogCoshDiceLoss,
    TverskyLoss,
)
from LesionSegLogic.losses.unified_focal import AsymmetricUnifiedFocalLoss, UnifiedFocalLoss
from LesionSegLogic.losses.weighted_gradient import WeightedGradientLoss


@dataclass(frozen=True)
class LossInfo:
    """One row of the loss table."""

    name: str
    cls: type[BinaryLoss]
    formula: str
    source: str
    convention: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready row (the class is given by its qualified name)."""
        return {
            "name": self.name,
            "class": f"{self.cls.__module__}.{self.cls.__qualname__}",
            "formula": self.formula,
            "params": dict(self.params),
            "source": self.source,
            "convention": self.convention,
        }


def _defaults(cls: type[BinaryLoss]) -> dict[str, Any]:
    sig = inspect.signature(cls.__init__)
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {k: p.default for k, p in sig.parameters.items() if k != "self" and p.kind in named}


_TVERSKY = "alpha weights FP, beta weights FN (Salehi/Hashemi eq. 2, MONAI)"

_ROWS: tuple[tuple[type[BinaryLoss], str, str, str], ...] = (
    (BCELoss, "−mean[y ln p + (1−y) ln(1−p)]",
     "standard; Cabezas & Diez 2024 eq. 1 (xent), Hussein et al. 2023 (BCE)", ""),
    (
        WeightedBCELoss,
        "−mean[β y ln p + (1−β)(1−y) ln(1−p)]",
        "Taghanaki et al. 2019 (Combo) eq. 2, paper bracket",
        "β on the lesion term; β > 0.5 punishes FN more",
    ),
    (
        FocalLoss,
        "−mean[α_t (1−p_t)^γ ln p_t]",
        "Lin et al. 2017 (ICCV); Cabezas & Diez 2024 focal1/focal2 (α .25/.75, γ 2)",
        "α_t = α on lesion, 1−α on background; alpha=None: no weight",
    ),
    (
        DiceLoss,
        "1 − (2Σpy + s)/(Σp + Σy + s)",
        "Milletari et al. 2016 (V-Net; squared=True for its Σp²+Σy²); Cabezas & Diez 2024 eq. 4",
        "",
    ),
    (
        GeneralizedDiceLoss,
        "1 − 2Σ_c w_c Σ p_c y_c / Σ_c w_c Σ (p_c + y_c), c ∈ {bg, lesion}, w_c = 1/n_c²",
        "Sudre et al. 2017; two-class form of Cabezas & Diez 2024 eq. 3",
        "weights='simple' is Cabezas' code (1/n); empty class gets the largest finite weight",
    ),
    (
        TverskyLoss,
        "1 − (TP + s)/(TP + α FP + β FN + s)",
        "Salehi et al. 2017; Hashemi et al. 2018 eq. 2–3",
        _TVERSKY + "; Hussein et al. 2023's 'α = 0.7' is our beta",
    ),
    (
        FocalTverskyLoss,
        "(1 − TI(α, β))^γ",
        "Abraham & Khan 2019 (exponent 1/γ_paper, γ_paper = 4/3)",
        _TVERSKY + "; Abraham's α (0.7, on FN) is our beta",
    ),
    (LogCoshDiceLoss, "ln cosh(L_Dice)", "Jadon 2020 (CIBCB)", ""),
    (
        ComboLoss,
        "α wCE(β) + (1−α)(1 − DSC)",
        "Taghanaki et al. 2019 eq. 3 (paper: α wCE − (1−α) DSC; nonnegative=False)",
        "α on the CE term, β on the CE lesion term",
    ),
    (DiceCELoss, "λ_dice L_Dice + λ_ce BCE", "Cabezas & Diez 2024 'mixed'; MONAI DiceCELoss", ""),
    (DiceFocalLoss, "λ_dice L_Dice + λ_focal L_focal", "HyTver's FocalDice; MONAI DiceFocalLoss", ""),
    (
        UnifiedFocalLoss,
        "λ L_msF + (1−λ) mean_c (1 − mTI_c)^(1−γ)",
        "Yeung et al. 2022 (CMIG), symmetric",
        "mTI: δ on FN (alpha = 1−δ, beta = δ)",
    ),
    (
        AsymmetricUnifiedFocalLoss,
        "λ L_maF + (1−λ) ½[(1 − mTI_bg) + (1 − mTI_fg)^(1−γ)]",
        "Yeung et al. 2022 (CMIG), asymmetric",
        "mTI: δ on FN (alpha = 1−δ, beta = δ)",
    ),
    (
        HyTverLoss,
        "γ wCE(ce_beta) + (1−γ)(1 − TI(α, β))",
        "Perera et al. 2025 §II-A; defaults from the authors' code",
        "paper α (on FN) = our beta, paper 1−α = our alpha, paper β = ce_beta",
    ),
    (
        WeightedGradientLoss,
        "∂L/∂z = c[w_bg(1−y)p^γ − w_fg y(1−p)^γ], w_fg = N_bg/N, w_bg = N_fg/N",
        "Cabezas & Diez 2024 eq. 5",
        "custom autograd; forward = exact potential; c = 1/N (normalisation='mean')",
    ),
)

LOSSES: dict[str, LossInfo] = {
    cls.name: LossInfo(
        name=cls.name, cls=cls, formula=formula, source=source, convention=convention, params=_defaults(cls)
    )
    for cls, formula, source, convention in _ROWS
}

#: Accepted spellings of parameters whose Python name is a keyword.
_ALIASES = {"lambda": "lambda_"}


def available_losses() -> list[str]:
    """Names accepted by :func:`build_loss`, in table order."""
    return list(LOSSES)


def loss_info(name: str) -> LossInfo:
    """The table row of ``name``."""
    try:
        return LOSSES[name]
    except KeyError:
        raise ConfigError(f"unknown loss {name!r}; available: {', '.join(available_losses())}") from None


def build_loss(name: str, **params: Any) -> BinaryLoss:
    """A new loss module ``name`` with ``params`` overriding its defaults."""
    info = loss_info(name)
    params = {_ALIASES.get(k, k): v for k, v in params.items()}
    unknown = sorted(set(params) - set(info.params))
    if unknown:
        accepted = ", ".join(f"{k}={v!r}" for k, v in info.params.items()) or "none"
        raise ConfigError(f"{name}: unknown parameter(s) {', '.join(unknown)}; accepted: {accepted}")
    return info.cls(**params)


def loss_table() -> list[dict[str, Any]]:
    """Every row as a JSON-ready dictionary (what ``lesionseg losses --json`` prints)."""
    return [info.as_dict() for info in LOSSES.values()]
