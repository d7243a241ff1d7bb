"""The library stays light: importing it loads neither the web page's gradio nor matplotlib."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def loaded(modules: str) -> str:
    """Which of gradio and matplotlib a fresh interpreter has loaded after importing `modules`."""
    code = f"import sys, {modules}; print(','.join(m for m in ('gradio', 'matplotlib') if m in sys.modules))"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def test_library_imports_neither_gradio_nor_matplotlib():
    assert loaded("agegender, agegender.cli, agegender.classifier, agegender.gradcam, agegender.features") == ""
    assert loaded("demo.analysis").startswith("gradio")  # the check can fail: the page's package does load it
