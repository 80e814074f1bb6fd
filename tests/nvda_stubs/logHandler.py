"""Stand-in for NVDA's logHandler: `log` is a logging.Logger with NVDA's extra levels."""

import logging

DEBUGWARNING = 15
IO = 12
logging.addLevelName(DEBUGWARNING, "DEBUGWARNING")
logging.addLevelName(IO, "IO")


class Logger(logging.Logger):
	def debugWarning(self, msg, *args, **kwargs):
		if self.isEnabledFor(DEBUGWARNING):
			self._log(DEBUGWARNING, msg, args, **kwargs)

	def io(self, msg, *args, **kwargs):
		if self.isEnabledFor(IO):
			self._log(IO, msg, args, **kwargs)


# Registered with logging's manager so pytest's caplog (on the root logger) sees its records.
logging.setLoggerClass(Logger)
try:
	log = logging.getLogger("nvda")
finally:
	logging.setLoggerClass(logging.Logger)
log.setLevel(logging.DEBUG)
