"""Stand-in for NVDA's autoSettingsUtils.utils."""


def paramToPercent(current: int, min: int, max: int) -> int:
	return round(float(current - min) / (max - min) * 100)


def percentToParam(percent: int, min: int, max: int) -> int:
	return round(float(percent) / 100 * (max - min) + min)


class UnsupportedConfigParameterError(NotImplementedError):
	"""Raised when changing or retrieving a driver setting that is unsupported for the connected device."""


class StringParameterInfo:
	"""A string parameter (a voice, a variant): an id and a display name."""

	def __init__(self, id: str, displayName: str):
		self.id = id
		self.displayName = displayName

	def __repr__(self):
		return f"{type(self).__name__}({self.id!r}, {self.displayName!r})"
