"""`echoic speechd install | uninstall`: what install makes, uninstall removes, nothing else."""

from __future__ import annotations

import argparse
import subprocess

import pytest

from speechd_bridge import commands


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    return tmp_path


def _parser():
    parser = argparse.ArgumentParser(prog="echoic")
    sub = parser.add_subparsers(dest="command", required=True)
    bench = sub.add_parser("bench").add_subparsers(dest="bench", required=True)
    commands.register(sub, bench)
    return parser


def _run(*argv) -> int:
    args = _parser().parse_args(list(argv))
    return args.func(args)


def test_install_makes_an_executable_wrapper_and_config(home):
    assert _run("speechd", "install", "--quiet") == 0
    wrapper = home / ".local/libexec/speech-dispatcher-modules/sd_echoic"
    config = home / ".config/speech-dispatcher/modules/echoic.conf"
    assert wrapper.stat().st_mode & 0o111 and config.exists()
    # The wrapper really starts the module: INIT without a daemon still loads, QUIT ends it.
    result = subprocess.run([str(wrapper), str(config)], input=b"QUIT\n", capture_output=True, timeout=30)
    assert result.stdout == b"210 OK QUIT\n"


def test_uninstall_removes_only_what_install_made(home):
    other = home / ".config/speech-dispatcher/modules/espeak-ng.conf"
    other.parent.mkdir(parents=True)
    other.write_text("keep me\n")
    assert _run("speechd", "install", "--quiet") == 0
    assert _run("speechd", "uninstall") == 0
    assert not (home / ".local/libexec/speech-dispatcher-modules/sd_echoic").exists()
    assert not (home / ".config/speech-dispatcher/modules/echoic.conf").exists()
    assert other.read_text() == "keep me\n"


def test_install_refuses_to_overwrite_a_foreign_file(home, capsys):
    foreign = home / ".local/libexec/speech-dispatcher-modules/sd_echoic"
    foreign.parent.mkdir(parents=True)
    foreign.write_text("#!/bin/sh\necho mine\n")
    assert _run("speechd", "install", "--quiet") == 1
    assert "--force" in capsys.readouterr().err
    assert foreign.read_text() == "#!/bin/sh\necho mine\n"
    assert _run("speechd", "uninstall") == 0
    assert foreign.exists()  # not ours: left alone
    assert _run("speechd", "install", "--quiet", "--force") == 0
    assert "speechd_bridge.module" in foreign.read_text()


def test_bench_is_registered():
    args = _parser().parse_args(["bench", "speechd", "--runs", "2"])
    assert args.runs == 2 and callable(args.func)
