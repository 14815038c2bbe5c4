"""Training: data folders and subject-level splits, lesion-centred patch sampling, augmentation, the training
loop (seeds 000 and 002), Kamraoui's lesion-wise F1 estimator (seed 003) and DDP under ``torchrun``.

Import the submodules directly (``from LesionSegLogic.training.loop import train``); this package imports
nothing heavy on its own.
"""
