"""Child-process entry of ``Testing/test_slicer_widget_external.py``: the real module widget on the fake qt/ctk
widgets (heavy packages blocked, as in ``run_panel.py``) adds an nnU-Net model folder through "Add model folder…",
chooses its lesion label, leaves and re-enters the module, and tries a path that is no model. Argument: the folder
of a multi-label nnU-Net model (written by the parent: nnunetv2 and torch are blocked here) and a plain folder;
``--slicer-source DIR`` first uses Slicer's own parameterNodeWrapper (as ``run_panel.py``). Prints one JSON object
on the last line of stdout."""

from __future__ import annotations

import json
import types

# importing run_panel installs the fakes and the import block (its module body), as the panel tests run
from run_panel import ARGS, load_module_file, loaded_blocked


def items(box) -> list[str]:
    return [box.itemText(i) for i in range(box.count)]


def main(model_folder: str, not_a_model: str) -> dict:
    module = load_module_file()
    widget = module.LesionSegWidget(types.SimpleNamespace(isEntered=True))
    widget.setup()
    widget.enter()
    ui, panel = widget.ui, widget.panel
    errors: list[str] = []
    panel.presenter._report_error = errors.append
    report = {"labels_visible_before": ui.modelLabelComboBox.visible}
    ui.modelPathLineEdit.currentPath = model_folder
    ui.addModelButton.click()
    node = panel._parameter_node
    report.update(models=items(ui.modelComboBox), shown=ui.modelComboBox.currentText, stored=node.model,
                  labels=items(ui.modelLabelComboBox), labels_visible=ui.modelLabelComboBox.visible,
                  label_chosen=panel.presenter.model_label, model_info=ui.modelInfoLabel.text)
    ui.modelLabelComboBox.currentText = "lesion"
    report.update(stored_label=node.model_label, presenter_label=panel.presenter.model_label)
    widget.exit()
    panel.presenter.added.clear()  # as a new Slicer session would: the stored path must bring the model back
    panel.presenter.model_label = ""
    panel._fill_models()
    widget.enter()
    report.update(after_enter=ui.modelComboBox.currentText, after_enter_label=panel.presenter.model_label,
                  after_enter_model=panel.presenter.model)
    ui.modelPathLineEdit.currentPath = not_a_model
    ui.addModelButton.click()
    report.update(errors=errors, models_after_bad=items(ui.modelComboBox),
                  export_formats=items(ui.exportFormatComboBox), map_channels=items(ui.mapChannelComboBox),
                  map_scales=items(ui.mapScaleComboBox))
    ui.modelComboBox.currentText = report["models"][0]
    report.update(labels_visible_zoo=ui.modelLabelComboBox.visible, stored_zoo=node.model)
    widget.cleanup()
    report["blocked_loaded"] = loaded_blocked()
    return report


if __name__ == "__main__":
    print(json.dumps(main(*ARGS[:2]), default=str))
