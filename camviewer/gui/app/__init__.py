"""The application: launch, the main window (composes and wires the features), menus, self-test, screenshots."""
