"""Stand-in for NVDA's languageHandler: the UI language and locale descriptions."""

_language = "en_US"


def getLanguage() -> str:
	return _language


def setLanguage(lang: str) -> None:
	global _language
	_language = lang


def getWindowsLanguage() -> str:
	return _language


def getLanguageDescription(language: str):
	return language


def normalizeLanguage(lang: str):
	if not lang:
		return None
	parts = lang.replace("-", "_").split("_")
	parts[0] = parts[0].lower()
	if len(parts) > 1:
		parts[1] = parts[1].upper()
	return "_".join(parts)
