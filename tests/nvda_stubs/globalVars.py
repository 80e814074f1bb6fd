"""Stand-in for NVDA's globalVars."""

settingsRing = None
appArgs = None
