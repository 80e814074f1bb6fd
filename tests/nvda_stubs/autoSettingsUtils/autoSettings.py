"""Stand-in for NVDA's autoSettingsUtils.autoSettings: load/save settings through config.conf."""

from copy import deepcopy

import config
from autoSettingsUtils.utils import UnsupportedConfigParameterError, paramToPercent, percentToParam
from baseObject import AutoPropertyObject
from logHandler import log


class AutoSettings(AutoPropertyObject):
	def __init__(self):
		super().__init__()
		config.pre_configSave.register(self.saveSettings)

	def __del__(self):
		if config is not None and config.pre_configSave is not None:
			config.pre_configSave.unregister(self.saveSettings)

	@classmethod
	def getId(cls) -> str:
		raise NotImplementedError

	@classmethod
	def getDisplayName(cls) -> str:
		raise NotImplementedError

	@classmethod
	def _getConfigSection(cls) -> str:
		raise NotImplementedError

	@classmethod
	def _initSpecificSettings(cls, clsOrInst, settings) -> None:
		section = cls._getConfigSection()
		settingsId = cls.getId()
		firstLoad = not config.conf[section].isSet(settingsId)
		if firstLoad:
			config.conf[section][settingsId] = {}
		config.conf[section][settingsId].spec.update(cls._getConfigSpecForSettings(settings))
		for setting in settings:
			if not hasattr(clsOrInst, setting.id):
				setattr(clsOrInst, setting.id, setting.defaultVal)
		if firstLoad:
			cls._saveSpecificSettings(clsOrInst, settings)
		else:
			cls._loadSpecificSettings(clsOrInst, settings)

	def initSettings(self):
		self._initSpecificSettings(self, self.supportedSettings)

	def _get_supportedSettings(self):
		return []

	def isSupported(self, settingID) -> bool:
		return any(s.id == settingID for s in self.supportedSettings)

	@classmethod
	def _getConfigSpecForSettings(cls, settings):
		spec = deepcopy(config.confspec[cls._getConfigSection()]["__many__"])
		for setting in settings:
			if setting.useConfig:
				spec[setting.id] = setting.configSpec
		return spec

	def getConfigSpec(self):
		return self._getConfigSpecForSettings(self.supportedSettings)

	@classmethod
	def _saveSpecificSettings(cls, clsOrInst, settings) -> None:
		conf = config.conf[cls._getConfigSection()][cls.getId()]
		for setting in settings:
			if not setting.useConfig:
				continue
			try:
				conf[setting.id] = getattr(clsOrInst, setting.id)
			except UnsupportedConfigParameterError:
				log.debugWarning(f"Unsupported setting {setting.id!r}; ignoring", exc_info=True)

	def saveSettings(self):
		self._saveSpecificSettings(self, self.supportedSettings)

	@classmethod
	def _loadSpecificSettings(cls, clsOrInst, settings, onlyChanged: bool = False) -> None:
		conf = config.conf[cls._getConfigSection()][cls.getId()]
		for setting in settings:
			if not setting.useConfig or conf.get(setting.id) is None:
				continue
			val = conf[setting.id]
			if onlyChanged and getattr(clsOrInst, setting.id) == val:
				continue
			try:
				setattr(clsOrInst, setting.id, val)
			except UnsupportedConfigParameterError:
				log.debugWarning(f"Unsupported setting {setting.id!r}; ignoring", exc_info=True)

	def loadSettings(self, onlyChanged: bool = False):
		self._loadSpecificSettings(self, self.supportedSettings, onlyChanged)

	@classmethod
	def _paramToPercent(cls, current, min, max):
		return paramToPercent(current, min, max)

	@classmethod
	def _percentToParam(cls, percent, min, max):
		return percentToParam(percent, min, max)
