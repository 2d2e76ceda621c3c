import os
import sys
from pathlib import Path

# Qt runs without a screen in the tests; the project root is importable from any working folder.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
