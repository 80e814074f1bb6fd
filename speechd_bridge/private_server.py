"""A private speech-dispatcher (and PulseAudio null sink) in one folder, for tests and benchmarks.

Follows the recipe in docs/speechd.md: private HOME/XDG folders, a unix socket, `AddModule` lines
for the modules asked for, and a PulseAudio null sink so audio plays at real-time pace (libao's
and ALSA's null outputs do not pace, which would make cancel and pause measure nothing).
Everything is started with a timeout and stopped by pid, never by name.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

MODULE_DIR = Path("/usr/lib/speech-dispatcher-modules")


class SpeechdUnavailable(RuntimeError):
    """speech-dispatcher or PulseAudio is not installed, or did not start (the message says which)."""


@dataclass
class ModuleSpec:
    name: str
    binary: str
    """Absolute path, or a name in speech-dispatcher's module folder."""
    config_text: str = ""


def echoic_module_wrapper(path: Path, python: str = sys.executable, env: dict[str, str] | None = None) -> Path:
    """An executable that runs `sd_echoic` with this Python (and the environment given)."""
    lines = ["#!/bin/sh"]
    for key, value in (env or {}).items():
        lines.append(f"export {key}='{value}'")
    lines.append(f'exec "{python}" -m speechd_bridge.module "$@"')
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o755)
    return path


def _stop_pid(process: subprocess.Popen | None, timeout: float = 3.0) -> None:
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        # speechd may ignore SIGTERM while a module's audio is stuck (see docs/speechd.md, Traps).
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            process.kill()
        process.wait(timeout)


@dataclass
class PrivateSpeechd:
    base: Path
    modules: list[ModuleSpec]
    default_module: str
    extra_env: dict[str, str] = field(default_factory=dict)
    pulse: subprocess.Popen | None = None
    server: subprocess.Popen | None = None

    @staticmethod
    def missing() -> str | None:
        """Why this machine cannot run it, or None."""
        for tool in ("speech-dispatcher", "pulseaudio", "pactl"):
            if shutil.which(tool) is None:
                return (f"{tool} is not installed (apt-get install --no-install-recommends speech-dispatcher "
                        "speech-dispatcher-audio-plugins speech-dispatcher-espeak-ng pulseaudio pulseaudio-utils)")
        return None

    @property
    def socket(self) -> Path:
        return self.base / "speechd.sock"

    @property
    def env(self) -> dict[str, str]:
        """The environment for clients (and the server): private folders, our sockets."""
        env = dict(os.environ)
        env.update(
            HOME=str(self.base / "home"),
            XDG_CONFIG_HOME=str(self.base / "home" / ".config"),
            XDG_RUNTIME_DIR=str(self.base / "xdg-run"),
            SPEECHD_ADDRESS=f"unix_socket:{self.socket}",
            PULSE_SERVER=f"unix:{self.base / 'pulse.sock'}",
        )
        env.update(self.extra_env)
        return env

    def _write_config(self) -> Path:
        confdir = self.base / "conf"
        (confdir / "modules").mkdir(parents=True, exist_ok=True)
        lines = [
            'CommunicationMethod "unix_socket"',
            f'SocketPath "{self.socket}"',
            "Timeout 0",
            "LogLevel 3",  # modules log at INFO (sd_echoic maps 3 to INFO)
            f'LogDir "{self.base / "logs"}"',
            'AudioOutputMethod "pulse"',
        ]
        for module in self.modules:
            conf = f"{module.name}.conf"
            system_conf = Path("/etc/speech-dispatcher/modules") / conf
            if module.config_text:
                (confdir / "modules" / conf).write_text(module.config_text)
            elif system_conf.exists():
                shutil.copy(system_conf, confdir / "modules" / conf)
            lines.append(f'AddModule "{module.name}" "{module.binary}" "{conf}"')
        lines.append(f"DefaultModule {self.default_module}")
        (confdir / "speechd.conf").write_text("\n".join(lines) + "\n")
        return confdir

    def start(self, timeout: float = 15.0) -> "PrivateSpeechd":
        why = self.missing()
        if why:
            raise SpeechdUnavailable(why)
        for sub in ("home/.local/share", "home/.config", "xdg-run", "logs"):
            (self.base / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.base / "xdg-run", 0o700)
        env = self.env
        self.pulse = subprocess.Popen(
            ["pulseaudio", "--daemonize=no", "--exit-idle-time=-1", "-n", "--disallow-exit",
             '--load=module-null-sink sink_name=null rate=24000',
             f"--load=module-native-protocol-unix socket={self.base / 'pulse.sock'} auth-anonymous=1"],
            env=env, stdout=subprocess.DEVNULL, stderr=open(self.base / "logs" / "pulse.log", "wb"),
            start_new_session=True)
        self._wait(lambda: subprocess.run(["pactl", "info"], env=env, capture_output=True, timeout=5).returncode == 0,
                   timeout, "PulseAudio did not start; see " + str(self.base / "logs" / "pulse.log"))
        subprocess.run(["pactl", "set-default-sink", "null"], env=env, capture_output=True, timeout=5)
        confdir = self._write_config()
        self.server = subprocess.Popen(
            ["speech-dispatcher", "-s", "-t", "0", "-C", str(confdir), "-c", "unix_socket",
             "-S", str(self.socket), "-P", str(self.base / "speechd.pid")],
            env=env, stdout=subprocess.DEVNULL, stderr=open(self.base / "logs" / "speechd-stderr.log", "wb"),
            start_new_session=True)
        self._wait(self.socket.exists, timeout, "speech-dispatcher did not create its socket; see "
                   + str(self.base / "logs"))
        return self

    def _wait(self, ready, timeout: float, message: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if ready():
                    return
            except (OSError, subprocess.TimeoutExpired):
                pass
            time.sleep(0.05)
        self.stop()
        raise SpeechdUnavailable(message)

    def stop(self) -> None:
        _stop_pid(self.server)
        _stop_pid(self.pulse)

    def module_log(self, name: str) -> str:
        path = self.base / "logs" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else f"(no {path})"
