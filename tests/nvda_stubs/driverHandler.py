"""Stand-in for NVDA's driverHandler: Driver, the base of synth and braille drivers."""

from autoSettingsUtils.autoSettings import AutoSettings
from autoSettingsUtils.driverSetting import BooleanDriverSetting, DriverSetting, NumericDriverSetting  # noqa: F401
from autoSettingsUtils.utils import StringParameterInfo  # noqa: F401


class Driver(AutoSettings):
	name = ""
	description = ""

	def __init__(self):
		super().__init__()

	def terminate(self):
		"""Save settings and clean up; the driver is not used after this."""
		self.saveSettings()

	@classmethod
	def check(cls):
		return False

	@classmethod
	def getId(cls) -> str:
		return cls.name

	@classmethod
	def getDisplayName(cls) -> str:
		return cls.description

	@classmethod
	def _getConfigSection(cls) -> str:
		return cls._configSection
