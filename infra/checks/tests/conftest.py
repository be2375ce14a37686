import sys
from pathlib import Path

# The checks are plain modules beside this folder (infra/checks is not a package).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
