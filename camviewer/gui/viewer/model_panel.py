"""Right panel, top: the model (open a checkpoint, its card) and a bar per class with the predicted probability."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QLabel,
    QProgressBar,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from camviewer.gui.common.files import checkpoint_name

MAX_BARS = 10
PREDICTED_STYLE = "QProgressBar::chunk { background-color: #d9480f; }"
OTHER_STYLE = "QProgressBar::chunk { background-color: #5c7cfa; }"


class ModelPanel(QWidget):
    def __init__(self, open_action: QAction, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelPanel")
        self.open_button = QToolButton()
        self.open_button.setDefaultAction(open_action)
        self.open_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.name = QLabel("<i>No model loaded</i>", wordWrap=True)
        self.warning = QLabel(wordWrap=True, visible=False)
        self.warning.setStyleSheet("background: #fff3bf; color: #5c3c00; padding: 4px; border-radius: 3px")
        self.summary = QLabel(wordWrap=True)
        self.details_button = QToolButton(text="Model card", checkable=True, autoRaise=True)
        self.details_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.details_button.setArrowType(Qt.ArrowType.RightArrow)
        self.details_button.setToolTip("Everything the checkpoint says about how to use it")
        self.details_button.toggled.connect(self._toggle_details)
        self.card = QLabel(wordWrap=True, visible=False)
        self.card.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.bars_box = QGroupBox("Prediction")
        self.bars = QGridLayout(self.bars_box)
        self.bars.setColumnStretch(1, 1)
        self.verdict = QLabel("")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        for widget in (
            self.open_button,
            self.name,
            self.warning,
            self.summary,
            self.details_button,
            self.card,
            self.bars_box,
        ):
            layout.addWidget(widget)
        layout.addStretch(1)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self._rows: dict[str, tuple[QLabel, QProgressBar]] = {}

    def show_model(self, card, source: str | None, device: str, warning: str | None) -> None:
        """``card`` is the engine's ModelCard; only its fields are read."""
        self.name.setText(f"<b>{html.escape(checkpoint_name(source, 'demo model (built in)'))}</b>")
        self.name.setToolTip(source or "")
        self.warning.setText(warning or "")
        self.warning.setVisible(bool(warning))
        self.summary.setText(html.escape(card_summary(card, device)))
        self.card.setText(card_html(card, device))
        self._make_bars(card.class_names)

    def _toggle_details(self, shown: bool) -> None:
        self.card.setVisible(shown)
        self.details_button.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)

    def show_probabilities(self, probs: dict[str, float], predicted: str) -> None:
        names = list(probs) if len(probs) <= MAX_BARS else sorted(probs, key=probs.get, reverse=True)[:MAX_BARS]
        if names != list(self._rows):
            self._make_bars(names)
        for name, (label, bar) in self._rows.items():
            value = probs.get(name, 0.0)
            bar.setValue(round(value * 1000))
            bar.setFormat(f"{value:.3f}")
            is_predicted = name == predicted
            bar.setStyleSheet(PREDICTED_STYLE if is_predicted else OTHER_STYLE)
            label.setText(f"<b>{html.escape(name)}</b>" if is_predicted else html.escape(name))
        self.bars_box.setTitle(f"Prediction: {predicted}")

    def clear_probabilities(self) -> None:
        for _, bar in self._rows.values():
            bar.setValue(0)
            bar.setFormat("–")
        self.bars_box.setTitle("Prediction")

    def probability_texts(self) -> dict[str, str]:
        return {name: bar.format() for name, (_, bar) in self._rows.items()}

    def _make_bars(self, names: list[str]) -> None:
        while self.bars.count():
            item = self.bars.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        self._rows = {}
        for row, name in enumerate(names[:MAX_BARS]):
            label = QLabel(html.escape(name))
            bar = QProgressBar(maximum=1000, value=0, textVisible=True)
            bar.setFormat("–")
            bar.setMaximumHeight(18)
            self.bars.addWidget(label, row, 0)
            self.bars.addWidget(bar, row, 1)
            self._rows[name] = (label, bar)


def _grid(card) -> str:
    """ "224×224", or "32×48×48 voxels" for a volume model."""
    return "×".join(map(str, card.input_size)) + (" voxels" if len(card.input_size) == 3 else "")


def card_summary(card, device: str) -> str:
    channels = {1: "grey", 3: "RGB"}.get(card.channels, str(card.channels))
    head = "multi-label" if card.head == "sigmoid" else "softmax"
    return f"{card.arch} · {card.num_classes} classes · {_grid(card)} {channels} · {head} · {device}"


def card_html(card, device: str) -> str:
    channels = {1: "grey", 3: "RGB"}.get(card.channels, str(card.channels))
    head = "softmax (one class per image)" if card.head == "softmax" else "sigmoid (multi-label)"

    def numbers(values) -> str:
        return ", ".join(f"{v:.3g}" for v in values)

    rows = [
        ("Architecture", card.arch),
        ("Classes", ", ".join(card.class_names)),
        (
            "Input",
            f"{_grid(card)}, {channels}" + (f", border crop {card.border_crop:.0%}" if card.border_crop else ""),
        ),
        ("Preprocessing", card.describe_recipe()),
        ("Normalization", f"mean ({numbers(card.mean)}), std ({numbers(card.std)})"),
        ("Output", head),
        ("Positive class", card.positive_class or "—"),
        ("Device", device),
    ]
    notes = card.notes.get("loading") if isinstance(card.notes, dict) else None
    if notes:
        rows.append(("Notes", "; ".join(map(str, notes))))
    cells = "".join(
        f"<tr><td style='color:#666; padding-right:8px'>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>"
        for k, v in rows
    )
    return f"<table>{cells}</table>"
