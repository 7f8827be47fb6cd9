"""camviewer: train image classifiers and see where they look.

The Python API is small and lazy (importing camviewer does not import torch)::

    from camviewer import load_model, explain
    model = load_model("model.safetensors")
    results = explain(model, ["a.png", "b.dcm"], methods=("gradcam", "layercam"))
    results = explain(model, ["a.png"], methods=("integrated-gradients",), settings=MethodSettings(ig_steps=20))
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["MethodSettings", "__version__", "explain", "load_model"]


def __getattr__(name: str):
    # Lazy so that `import camviewer` (the GUI launcher, `--version`) stays fast.
    if name == "load_model":
        from camviewer.core.model.loading import load_model

        return load_model
    if name == "explain":
        from camviewer.core.explain.run import explain

        return explain
    if name == "MethodSettings":
        from camviewer.core.cam.names import MethodSettings

        return MethodSettings
    raise AttributeError(f"module 'camviewer' has no attribute {name!r}")
