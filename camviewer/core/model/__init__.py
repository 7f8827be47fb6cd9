"""Models: reading checkpoint files, state-dict normalisation and inference, architectures, loading.

Imports flow one way: ``card`` (no torch) <- ``files``, ``registry`` <- ``state_dict`` <- ``inference``,
``pretrained`` <- ``archs`` <- ``loaded`` <- ``loading``. Import the module you need; this package
imports nothing itself, so ``camviewer.core.model.card`` stays free of torch.
"""
