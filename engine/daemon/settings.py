"""The user's per-locale voice settings: a small TOML file, read again whenever it changes.

    [en-US]
    voice = "jf_alpha"
    rate = 1.5

Fields: voice, rate, pitch, volume, accent_strength. Read with tomllib; written by the tiny
writer below (the file only ever holds tables of strings and numbers), always atomically, so a
crash leaves the old file or the new one, never half of either.
"""

from __future__ import annotations

import json
import os
import threading
import tomllib
from pathlib import Path

from ..atomic_write import write_atomically
from ..errors import ConfigError, EchoicError, ProtocolError
from ..locales import canonical_tag
from .protocol import SETTINGS_FIELDS, validate_setting

SETTINGS_FILE = "settings.toml"

Table = dict[str, dict[str, object]]


def default_settings_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir("echoic")) / SETTINGS_FILE


def validate_table(raw: dict) -> Table:
    """Check a whole table; locale keys come back canonical. Raises ConfigError quoting the bad value."""
    table: Table = {}
    for key, values in raw.items():
        try:
            tag = canonical_tag(key)
        except EchoicError as exc:
            raise ConfigError(f"settings: {exc}") from None
        if not isinstance(values, dict):
            raise ConfigError(f"settings: [{key}] must be a table of {', '.join(SETTINGS_FIELDS)}")
        checked = table.setdefault(tag, {})
        for name, value in values.items():
            try:
                checked[name] = validate_setting(name, value)
            except ProtocolError as exc:
                raise ConfigError(f"settings [{tag}]: {exc}") from None
    return {tag: values for tag, values in table.items() if values}


def _toml_value(value) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    return repr(value)  # int or finite float (validated)


def dump_table(table: Table) -> str:
    lines = ["# Echoic per-locale voice settings (echoic config show|set|reset).", ""]
    for tag in sorted(table):
        lines.append(f"[{tag}]")
        for name in SETTINGS_FIELDS:
            if name in table[tag]:
                lines.append(f"{name} = {_toml_value(table[tag][name])}")
        lines.append("")
    return "\n".join(lines)


MAX_SETTINGS_BYTES = 64 * 1024
"""A settings file holds a few lines per locale; anything larger is refused unread."""


def read_table(path: Path) -> Table:
    """The file's table ({} when there is no file).

    Raises ConfigError, and nothing else, when the file is unreadable, too large, not UTF-8, not
    TOML (however malformed: a nesting deep enough to exhaust the parser's recursion included)
    or invalid: callers keep their last good table and say why.
    """
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_SETTINGS_BYTES + 1)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > MAX_SETTINGS_BYTES:
        raise ConfigError(f"{path} is larger than {MAX_SETTINGS_BYTES // 1024} KiB; it is not a settings file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text: byte 0x{data[exc.start]:02x} at offset {exc.start}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses per nested array or inline table
        raise ConfigError(f"{path} is not a settings file: its values nest too deeply") from None
    return validate_table(raw)


def write_table(path: Path, table: Table) -> None:
    write_atomically(path, dump_table(table).encode("utf-8"))


def updated(table: Table, locale: str, values: dict) -> Table:
    """A copy of `table` with `values` applied to `locale` (a None value removes that field)."""
    try:
        tag = canonical_tag(locale)
    except EchoicError as exc:
        raise ConfigError(str(exc)) from None
    new = {t: dict(v) for t, v in table.items()}
    entry = new.setdefault(tag, {})
    for name, value in values.items():
        if value is None:
            if name not in SETTINGS_FIELDS:
                raise ConfigError(f"unknown setting {name!r}; settings are {', '.join(SETTINGS_FIELDS)}")
            entry.pop(name, None)
        else:
            try:
                entry[name] = validate_setting(name, value)
            except ProtocolError as exc:
                raise ConfigError(str(exc)) from None
    return {t: v for t, v in new.items() if v}


class SettingsStore:
    """The settings file as the daemon sees it: re-read when its mtime or size changes.

    A file edited into an invalid state keeps the last good table (and `problem` says why), so
    a typo never silences the screen reader.
    """

    def __init__(self, path: Path | None = None):
        self.path = path or default_settings_path()
        self.problem: str | None = None
        self._stamp = None
        self._table: Table = {}
        self._lock = threading.Lock()

    def table(self) -> Table:
        with self._lock:
            try:
                st = os.stat(self.path)
                stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            except FileNotFoundError:
                stamp = None
            except OSError as exc:  # a folder in the way, no permission: keep the last good table
                self.problem = f"cannot read {self.path}: {exc.strerror}"
                return self._table
            if stamp != self._stamp:
                try:
                    self._table = read_table(self.path) if stamp else {}
                    self.problem = None
                except ConfigError as exc:
                    self.problem = str(exc)
                except Exception as exc:  # the boundary: a reader bug must not silence speech either
                    self.problem = f"cannot read {self.path}: {type(exc).__name__}: {exc}"
                self._stamp = stamp
            return self._table

    def for_locale(self, tag: str) -> dict:
        return dict(self.table().get(tag, {}))

    def set(self, locale: str, values: dict) -> Table:
        with self._lock:
            table = updated(read_table(self.path), locale, values)
            write_table(self.path, table)
            self._stamp = None
        return self.table()
