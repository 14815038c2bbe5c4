"""Binary cross-entropy and Taghanaki's weighted cross-entropy (the CE term of Combo and HyTver)."""

from __future__ import annotations

from torch import Tensor

from LesionSegLogic.losses.base import BinaryLoss, check_fraction, log_1mp, log_p


def weighted_ce(z: Tensor, y: Tensor, beta: float) -> Tensor:
    """``−(1/N) Σ_i [β·y_i·ln p_i + (1 − β)·(1 − y_i)·ln(1 − p_i)]`` over every voxel of the batch.

    The weighted CE of Taghanaki et al. 2019 (Combo loss, eq. 2) with ``p = σ(z)`` in log-sigmoid form.
    """
    return -(beta * y * log_p(z) + (1.0 - beta) * (1.0 - y) * log_1mp(z)).mean()


class BCELoss(BinaryLoss):
    """Binary cross-entropy ``L = −(1/N) Σ_i [y_i ln p_i + (1 − y_i) ln(1 − p_i)]``, ``p = σ(z)``.

    Source: the standard voxel-wise cross-entropy (Cabezas & Diez 2024 eq. 1, "xent"; Hussein et al. 2023 "BCE").
    ``N`` counts every voxel of the batch. No parameters. Lesion-free patch: each background voxel costs
    ``−ln(1 − p)``, so false positives are always punished. Equals
    ``torch.nn.functional.binary_cross_entropy_with_logits`` and MONAI's ``DiceCELoss`` CE term for one sigmoid channel.
    """

    name = "bce"

    def __init__(self) -> None:
        super().__init__()

    def compute(self, z: Tensor, y: Tensor) -> Tensor:
        return weighted_ce(z, y, 0.5) * 2.0


class WeightedBCELoss(BinaryLoss):
    """Weighted cross-entropy ``L = −(1/N) Σ_i [β y_i ln p_i + (1 − β)(1 − y_i) ln(1 − p_i)]``.

    Source: Taghanaki et al., "Combo loss", CMIG 2019, eq. 2 (the paper's bracket: β on the lesion term and
    1 − β on the background term; the public ``asgsaeid/ComboLoss`` code weights the background term by
    β(1 − β) instead — we follow the paper). ``β > 0.5`` punishes false negatives more than false positives.
    With ``β = 0.5`` it is half the plain BCE.

    Default ``beta = 0.7``: the paper tunes β per data set; 0.7 is the lesion weight of HyTver's released code
    and the FN weight the seeds favour (Hashemi et al. 2018's best β). Lesion-free patch: background voxels cost ``−(1 −
    β) ln(1 − p)``.
    """

    name = "weighted_bce"
    _params = ("beta",)

    def __init__(self, beta: float = 0.7) -> None:
        super().__init__()
        self.beta = check_fraction("beta", beta)

    def compute(self, z: Tensor, y: Tensor) -> Tensor:
        return weighted_ce(z, y, self.beta)
