"""The window's actions (with their shortcuts named in menus and tooltips), menus and toolbar.

Every action is in a menu (Help > Keyboard shortcuts lists them all, see :mod:`~camviewer.gui.app.keys`);
single-letter shortcuts never fire while typing in a text field.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMessageBox, QStyle


@dataclass
class Actions:
    open_folder: QAction
    open_images: QAction
    open_model: QAction
    open_comparison: QAction
    close_comparison: QAction
    export_view: QAction
    export_folder: QAction
    quit: QAction
    next_image: QAction
    previous_image: QAction
    fit: QAction
    actual_size: QAction
    next_window: QAction
    decoded_window: QAction
    invert: QAction
    fixed_scale: QAction
    scale_here: QAction
    more_opacity: QAction
    less_opacity: QAction
    thumbnails: QAction
    recursive: QAction
    compare: QAction
    viewer_panel: QAction
    shortcuts: QAction
    about: QAction


def action(
    window: QMainWindow,
    text: str,
    shortcuts: list[str],
    tip: str,
    icon: QStyle.StandardPixmap | None = None,
    checkable: bool = False,
) -> QAction:
    """An action whose tooltip and status tip name its shortcuts, e.g. "Next image (Right, PgDown)"."""
    item = QAction(text, window, checkable=checkable)
    if icon is not None:
        item.setIcon(window.style().standardIcon(icon))
    sequences = [QKeySequence(s) for s in shortcuts]
    item.setShortcuts(sequences)
    keys = ", ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in sequences)
    item.setToolTip(f"{tip} ({keys})" if keys else tip)
    item.setStatusTip(item.toolTip())
    window.addAction(item)  # shortcuts work even when the menu bar is hidden
    return item


def build_actions(window: QMainWindow) -> Actions:
    sp = QStyle.StandardPixmap
    return Actions(
        open_folder=action(window, "Open &folder…", ["Ctrl+O"], "Open a folder of images", sp.SP_DirOpenIcon),
        open_images=action(window, "Open &images…", ["Ctrl+Shift+O"], "Open image files", sp.SP_FileIcon),
        open_model=action(
            window, "Open &model…", ["Ctrl+M"], "Open a checkpoint (.safetensors, .pt, .pth)", sp.SP_DriveHDIcon
        ),
        open_comparison=action(
            window,
            "Open &comparison model…",
            ["Ctrl+Shift+M"],
            "A second checkpoint explained on the same images, its maps beside the first model's",
        ),
        close_comparison=action(window, "C&lose comparison model", [], "Back to one model"),
        export_view=action(
            window,
            "&Export current view…",
            ["Ctrl+E"],
            "Save the overlay as PNG and the raw map as .npy",
            sp.SP_DialogSaveButton,
        ),
        export_folder=action(
            window,
            "Export &folder…",
            ["Ctrl+Shift+E"],
            "Maps, overlays and predictions.csv for every image in the list",
        ),
        quit=action(window, "&Quit", ["Ctrl+Q"], "Quit camviewer"),
        next_image=action(window, "&Next image", ["Right", "PgDown"], "Next image", sp.SP_ArrowRight),
        previous_image=action(window, "&Previous image", ["Left", "PgUp"], "Previous image", sp.SP_ArrowLeft),
        fit=action(
            window, "&Fit to window", ["F"], "Fit the image to the view (also: double-click)", sp.SP_TitleBarMaxButton
        ),
        actual_size=action(window, "&Actual size (1:1)", ["1"], "One image pixel per screen pixel"),
        next_window=action(
            window,
            "Next &window preset",
            ["W"],
            "The image's next display window (display only; the model is unaffected)",
        ),
        decoded_window=action(window, "&Reset window (as decoded)", ["Shift+W"], "Draw the image as the model sees it"),
        invert=action(window, "&Invert image", ["I"], "Swap black and white (display only)", checkable=True),
        fixed_scale=action(
            window,
            "Fi&xed map scale",
            ["S"],
            "One maximum for every map of the folder, so magnitudes compare across images",
            checkable=True,
        ),
        scale_here=action(
            window, "Map scale from t&his image", ["Shift+S"], "Fix the map scale at this image's maximum"
        ),
        more_opacity=action(window, "More heatmap opacity", ["+", "="], "Make the heatmap more opaque"),
        less_opacity=action(window, "Less heatmap opacity", ["-"], "Make the heatmap more transparent"),
        thumbnails=action(window, "&Thumbnails", ["Ctrl+T"], "Thumbnails or a list of names", checkable=True),
        recursive=action(
            window, "Include &sub-folders", ["Ctrl+Shift+F"], "List the images of every sub-folder too", checkable=True
        ),
        compare=action(
            window,
            "&Compare side by side",
            ["C"],
            "Several methods side by side, from one pass",
            sp.SP_FileDialogListView,
            checkable=True,
        ),
        viewer_panel=action(
            window, "&Model and CAM panel", ["Ctrl+Shift+C"], "The model, the CAM options and the image display"
        ),
        shortcuts=action(window, "&Keyboard shortcuts", ["F1"], "List the keyboard shortcuts"),
        about=action(window, "&About camviewer", [], "About camviewer"),
    )


@dataclass
class WorkbenchActions:
    """Training, evaluation and trust: the panels (docks), the ground truth overlay and the refinement wizard."""

    training: QAction
    resume: QAction
    evaluation: QAction
    export_report: QAction
    load_truth: QAction
    show_truth: QAction
    trust: QAction
    refine: QAction


def build_workbench_actions(window: QMainWindow) -> WorkbenchActions:
    sp = QStyle.StandardPixmap
    show_truth = action(
        window, "Show &ground truth", ["G"], "Draw the ground-truth region and ROI over the image", checkable=True
    )
    show_truth.setChecked(True)
    return WorkbenchActions(
        training=action(window, "&Training panel", ["Ctrl+Shift+T"], "Train a model with live curves", sp.SP_MediaPlay),
        resume=action(window, "&Resume a run…", [], "Continue a training run folder where it stopped"),
        evaluation=action(
            window,
            "&Evaluation panel",
            ["Ctrl+Shift+V"],
            "Confusion matrix, ROC and metrics of the model on a dataset",
            sp.SP_FileDialogDetailedView,
        ),
        export_report=action(window, "Export evaluation &report…", [], "Write one HTML report of the last evaluation"),
        load_truth=action(
            window,
            "Load &ground truth…",
            ["Ctrl+G"],
            "Masks, boxes or COCO annotations (and ROI masks) to draw and score the current map against",
        ),
        show_truth=show_truth,
        trust=action(
            window,
            "Trust &report panel",
            ["Ctrl+Shift+L"],
            "Localization, faithfulness and sanity scores per CAM method over a dataset",
        ),
        refine=action(
            window,
            "Re&finement wizard…",
            ["Ctrl+Shift+R"],
            "Measure, build an enhanced set, fine-tune, measure again: the CAM-guided cycle",
        ),
    )


def build_workbench_menus(window: QMainWindow, actions: WorkbenchActions) -> None:
    """The Train and Trust menus, placed before Help."""
    bar = window.menuBar()
    help_action = bar.actions()[-1] if bar.actions() else None
    train_menu, trust_menu = bar.addMenu("&Train"), bar.addMenu("Tr&ust")
    if help_action is not None:
        bar.insertMenu(help_action, train_menu)
        bar.insertMenu(help_action, trust_menu)
    train_menu.addActions([actions.training, actions.resume])
    train_menu.addSeparator()
    train_menu.addActions([actions.evaluation, actions.export_report])
    trust_menu.addActions([actions.load_truth, actions.show_truth])
    trust_menu.addSeparator()
    trust_menu.addActions([actions.trust, actions.refine])


def build_menus(window: QMainWindow, actions: Actions, docks: list) -> dict[str, object]:
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.addActions([actions.open_folder, actions.open_images])
    recent_folders = file_menu.addMenu("Recent &folders")
    file_menu.addAction(actions.open_model)
    recent_models = file_menu.addMenu("&Recent models")
    file_menu.addActions([actions.open_comparison, actions.close_comparison])
    file_menu.addSeparator()
    file_menu.addActions([actions.export_view, actions.export_folder])
    file_menu.addSeparator()
    file_menu.addAction(actions.quit)
    view_menu = bar.addMenu("&View")
    view_menu.addActions([actions.previous_image, actions.next_image, actions.fit, actions.actual_size])
    view_menu.addSeparator()
    view_menu.addActions([actions.next_window, actions.decoded_window, actions.invert])
    view_menu.addSeparator()
    view_menu.addActions(
        [actions.more_opacity, actions.less_opacity, actions.fixed_scale, actions.scale_here, actions.compare]
    )
    view_menu.addSeparator()
    view_menu.addActions([actions.thumbnails, actions.recursive])
    panels = view_menu.addMenu("&Panels")
    panels.addAction(actions.viewer_panel)
    for dock in docks:
        toggle = dock.toggleViewAction()
        toggle.setText(f"&{dock.windowTitle()} panel")  # shown or hidden
        panels.addAction(toggle)
    help_menu = bar.addMenu("&Help")
    help_menu.addActions([actions.shortcuts, actions.about])
    toolbar = window.addToolBar("Main")
    toolbar.setObjectName("mainToolbar")
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    toolbar.addActions([actions.open_folder, actions.open_model])
    toolbar.addSeparator()
    toolbar.addActions([actions.previous_image, actions.next_image, actions.fit, actions.compare])
    toolbar.addSeparator()
    toolbar.addAction(actions.export_view)
    return {"recent_folders": recent_folders, "recent_models": recent_models}


def fill_on_show(menu, items, open_item) -> None:
    """Fill a "recent" menu with ``items()`` each time it opens; choosing one calls ``open_item(path)``."""

    def fill() -> None:
        menu.clear()
        for item in items():
            menu.addAction(item, lambda checked=False, path=item: open_item(path))
        if menu.isEmpty():
            menu.addAction("(none yet)").setEnabled(False)

    menu.aboutToShow.connect(fill)


def show_about(parent) -> None:
    from camviewer import __version__

    QMessageBox.about(
        parent,
        "About camviewer",
        f"<b>camviewer</b> {__version__}<br>Class activation maps for image classifiers, on medical images and others.",
    )
