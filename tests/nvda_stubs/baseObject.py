"""Stand-in for NVDA's baseObject: AutoPropertyObject turns _get_x/_set_x into property x."""


class _AutoPropertyType(type):
	def __init__(cls, name, bases, namespace):
		super().__init__(name, bases, namespace)
		names = {
			key[5:]
			for key in namespace
			if key.startswith(("_get_", "_set_")) and len(key) > 5
		}
		for prop in names:
			getter = getattr(cls, "_get_" + prop, None)
			setter = getattr(cls, "_set_" + prop, None)
			# Look the accessors up on the instance's class so subclasses can override either one.
			fget = (lambda self, _p=prop: getattr(self, "_get_" + _p)()) if getter else None
			fset = (lambda self, value, _p=prop: getattr(self, "_set_" + _p)(value)) if setter else None
			setattr(cls, prop, property(fget, fset))


class AutoPropertyObject(metaclass=_AutoPropertyType):
	cachePropertiesByDefault = False

	def invalidateCache(self):
		pass


class ScriptableObject(AutoPropertyObject):
	pass
