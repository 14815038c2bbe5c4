"""The desktop panel's presenter names the model the one auto-pick (``defaults.pick_model``) chooses for the inputs
(issue 12): FLAIR only → a FLAIR-only model, FLAIR + T2 → the brain FLAIR + T2 model, a baseline → new lesions."""

from __future__ import annotations

from LesionSegLib.presenter import PanelPresenter

from LesionSegLogic.zoo import ModelCard


def _card(name: str, inputs: tuple[str, ...], f1: float) -> ModelCard:
    return ModelCard(name=name, architecture="unet3d", inputs=inputs, patch_size=(16, 16, 16),
                     validation={"at_recommended": {"mean": {"lesion_f1": f1}}})


def test_the_view_names_the_auto_picked_model_for_the_inputs() -> None:
    cards = [_card("both", ("flair", "t2"), 0.7), _card("flair_x", ("flair",), 0.9),
             _card("new_x", ("baseline_flair", "flair", "difference"), 0.5)]
    presenter = PanelPresenter(cards, lambda parameters: None, lambda: True, lambda session, folder: [])
    assert presenter.view().auto_model == ""  # nothing chosen yet
    presenter.set_inputs(flair=object())
    view = presenter.view()
    assert view.auto_model == "flair_x" and "flair_x" in view.auto_model_reason
    assert view.auto_model_reason in view.model_info
    presenter.set_inputs(flair=object(), t2=object())
    assert presenter.view().auto_model == "both"
    presenter.set_inputs(flair=object(), t2=object(), baseline=object())
    assert presenter.view().auto_model == "new_x"
