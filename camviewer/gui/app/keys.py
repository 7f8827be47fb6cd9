"""Help > Keyboard shortcuts: every action of every menu with its keys, and the mouse gestures.

Which widget gets a key: Qt asks the focus widget first (a ShortcutOverride event). Text fields (line
edits, spin boxes, editable combo boxes) claim every plain key, so single-letter shortcuts (C, G, F, I,
+, -) and the arrows never fire while typing. Combo boxes, sliders and buttons claim none, so after a
choice in a combo box or a slider drag, Left/Right and PageUp/PageDown still flip through the images
(camviewer no longer makes them claim the arrows, as it used to).
"""

from __future__ import annotations

import html

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QMenu, QMenuBar

# What no menu lists: the mouse and the keys widgets handle themselves.
OTHER_KEYS = (
    ("Right-drag on the image", "Window/level: left/right the width, up/down the level (display only)"),
    ("Wheel, left-drag", "Zoom and pan the image"),
    ("Double-click the image", "Fit the image to the view"),
    ("Tab, Shift+Tab", "Move between the controls of a panel"),
    ("Alt+underlined letter", "Open a menu, then its items by their underlined letters"),
)


def shortcut_table(bar: QMenuBar) -> str:
    """Every action of every menu with its keys: its shortcuts, else the menu letters that reach it."""
    rows = []
    for menu_action in bar.actions():
        menu = menu_action.menu()
        if menu is None:
            continue
        title = menu_action.text().replace("&", "")
        rows.append(f"<tr><td colspan='2'><br><b>{html.escape(title)}</b></td></tr>")
        rows += _menu_rows(menu, [_mnemonic(menu_action.text())])
    other = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in OTHER_KEYS)
    return (
        "<table cellpadding='2'>"
        + "".join(rows)
        + "<tr><td colspan='2'><br><b>Mouse and panels</b></td></tr>"
        + other
        + "</table>"
    )


def listed_actions(bar: QMenuBar) -> list:
    """The actions the shortcut table lists (every menu item, sub-menus included)."""
    found = []

    def walk(menu: QMenu) -> None:
        for action in menu.actions():
            if action.menu() is not None:
                walk(action.menu())
            elif not action.isSeparator() and action.text():
                found.append(action)

    for menu_action in bar.actions():
        if menu_action.menu() is not None:
            walk(menu_action.menu())
    return found


def _menu_rows(menu: QMenu, path: list[str]) -> list[str]:
    rows = []
    for action in menu.actions():
        if action.isSeparator() or not action.text():
            continue
        text = action.text().replace("&", "")
        if action.menu() is not None:
            rows += _menu_rows(action.menu(), [*path, _mnemonic(action.text())])
            continue
        keys = [s.toString(QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts()]
        steps = [step for step in [*path, _mnemonic(action.text())] if step]
        via_menu = f"Alt+{', '.join(steps)}" if len(steps) == len(path) + 1 else "menu"
        shown = ", ".join(keys) if keys else via_menu
        rows.append(f"<tr><td><b>{html.escape(shown)}</b></td><td>{html.escape(text)}</td></tr>")
    return rows


def _mnemonic(text: str) -> str:
    """The letter after "&" ("&File" -> "F"), or "" when the item has none."""
    index = text.find("&")
    while index != -1 and index + 1 < len(text) and text[index + 1] == "&":
        index = text.find("&", index + 2)
    return text[index + 1].upper() if index != -1 and index + 1 < len(text) else ""
