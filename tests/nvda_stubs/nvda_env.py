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
