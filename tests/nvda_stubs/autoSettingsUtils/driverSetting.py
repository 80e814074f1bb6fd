"""Stand-in for NVDA's autoSettingsUtils.driverSetting: the setting descriptions drivers list."""

from baseObject import AutoPropertyObject


class DriverSetting(AutoPropertyObject):
	def _get_configSpec(self):
		return "string(default={defaultVal})".format(defaultVal=self.defaultVal)

	def __init__(
		self,
		id: str,
		displayNameWithAccelerator: str,
		availableInSettingsRing: bool = False,
		defaultVal: object = None,
		displayName: str | None = None,
		useConfig: bool = True,
	):
		self.id = id
		self.displayNameWithAccelerator = displayNameWithAccelerator
		self.displayName = displayName or displayNameWithAccelerator.replace("&", "")
		self.availableInSettingsRing = availableInSettingsRing
		self.defaultVal = defaultVal
		self.useConfig = useConfig


class NumericDriverSetting(DriverSetting):
	def _get_configSpec(self):
		return f"integer(default={self.defaultVal},min={self.minVal},max={self.maxVal})"

	def __init__(
		self,
		id,
		displayNameWithAccelerator,
		availableInSettingsRing=False,
		defaultVal: int = 50,
		minVal: int = 0,
		maxVal: int = 100,
		minStep: int = 1,
		normalStep: int = 5,
		largeStep: int = 10,
		displayName: str | None = None,
		useConfig: bool = True,
	):
		super().__init__(
			id,
			displayNameWithAccelerator,
			availableInSettingsRing=availableInSettingsRing,
			defaultVal=defaultVal,
			displayName=displayName,
			useConfig=useConfig,
		)
		self.minVal = minVal
		self.maxVal = max(maxVal, self.defaultVal)
		self.minStep = minStep
		self.normalStep = max(normalStep, minStep)
		self.largeStep = max(largeStep, self.normalStep)


class BooleanDriverSetting(DriverSetting):
	def __init__(
		self,
		id: str,
		displayNameWithAccelerator: str,
		availableInSettingsRing: bool = False,
		displayName: str | None = None,
		defaultVal: bool = False,
		useConfig: bool = True,
	):
		super().__init__(
			id,
			displayNameWithAccelerator,
			availableInSettingsRing=availableInSettingsRing,
			defaultVal=defaultVal,
			displayName=displayName,
			useConfig=useConfig,
		)

	def _get_configSpec(self):
		return f"boolean(default={self.defaultVal!r})"
