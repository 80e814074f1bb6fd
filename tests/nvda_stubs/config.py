"""Stand-in for NVDA's config: `conf` sections with isSet/spec, and the pre_configSave action."""

import extensionPoints


class Section(dict):
	def __init__(self, *args, **kwargs):
		super().__init__(*args, **kwargs)
		self.spec = {}

	def isSet(self, key):
		return key in self

	def __setitem__(self, key, value):
		if isinstance(value, dict) and not isinstance(value, Section):
			value = Section(value)
		super().__setitem__(key, value)

	def __getitem__(self, key):
		if key not in self and key in self.spec:
			return None
		return super().__getitem__(key)


def _fresh():
	conf = Section()
	conf["speech"] = {"synth": "auto", "outputDevice": "default", "trimLeadingSilence": True}
	conf["audio"] = {"outputDevice": "default", "audioAwakeTime": 0}
	conf["debugLog"] = {"synthDriver": False, "nvwave": False}
	return conf


conf = _fresh()
confspec = {"speech": {"__many__": {}}}
pre_configSave = extensionPoints.Action()
post_configProfileSwitch = extensionPoints.Action()


def reset():
	"""Tests: forget every setting (a fresh NVDA configuration)."""
	global conf
	conf.clear()
	conf.update(_fresh())
