"""Training: data folders and subject-level splits, lesion-centred patch sampling, augmentation, the training
loop (Hussein et al. 2023 and Cabezas & Diez 2024), Kamraoui's lesion-wise F1 estimator (Kamraoui et al. 2021) and
DDP under ``torchrun``.

Import the submodules directly (``from LesionSegLogic.training.loop import train``); this package imports
nothing heavy on its own.
"""
