"""Make the stand-ins importable as NVDA's modules: `install()` before importing a driver."""

import builtins
import os
import sys

STUBS_DIR = os.path.dirname(os.path.abspath(__file__))


def install() -> None:
	if STUBS_DIR not in sys.path:
		sys.path.insert(0, STUBS_DIR)
	# NVDA installs gettext's _ and pgettext as builtins at start-up (languageHandler.setLanguage).
	if not hasattr(builtins, "_"):
		builtins._ = lambda s: s
	if not hasattr(builtins, "pgettext"):
		builtins.pgettext = lambda context, s: s


_STAGED = []


def staged_addon() -> str:
	"""The add-on laid out as NVDA unpacks it (nvda_addon.build.stage: the driver plus its copy of
	the client core), once per process, in a temporary folder; returns the folder to put on sys.path."""
	if not _STAGED:
		import atexit
		import shutil
		import tempfile
		from pathlib import Path

		from nvda_addon.build import stage

		folder = Path(tempfile.mkdtemp(prefix="echoic-addon-")) / "addon"
		stage(folder)
		atexit.register(shutil.rmtree, folder.parent, True)
		_STAGED.append(str(folder))
	return _STAGED[0]
