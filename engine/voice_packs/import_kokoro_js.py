"""Make `packs.npz` from the kokoro-js 1.2.1 tarball: `python -m engine.voice_packs.import_kokoro_js TARBALL`.

Get the tarball with `npm pack kokoro-js@1.2.1`. Every pack in `package/voices/` is checked against
the pinned sha256 table before anything is written: a tampered, truncated or other-version pack is
refused with the file's name and both digests, and the output is left as it was. The packs of the
languages Echoic serves are stored float16 (half the size; the audio stays within the int8 model's
own noise floor, tests/test_voice_packs.py) in a zip with fixed timestamps, so the same tarball
always gives the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np

from ..atomic_write import write_atomically
from ..errors import VoiceError
from . import PACKS_FILE, SHIPPED_LANGUAGES, SOURCE, native_locale, pinned_sha256

PACK_SHAPE = (510, 256)
_PREFIX = "package/voices/"


def read_packs(tarball: Path, pinned: dict[str, str] | None = None) -> dict[str, np.ndarray]:
    """Every pinned pack of the tarball, verified, as float32 (510, 256) by voice id."""
    pinned = pinned_sha256() if pinned is None else pinned
    try:
        archive = tarfile.open(tarball, "r:*")
    except (OSError, tarfile.TarError) as exc:
        raise VoiceError(f"{tarball}: not a readable tarball ({exc}); make it with `npm pack kokoro-js@1.2.1`") from exc
    packs: dict[str, np.ndarray] = {}
    with archive:
        members = {m.name: m for m in archive.getmembers() if m.isfile() and m.name.startswith(_PREFIX)}
        missing = sorted(name for name in pinned if _PREFIX + name not in members)
        if missing:
            raise VoiceError(f"{tarball}: {len(missing)} pinned packs missing ({', '.join(missing[:5])}...): "
                             f"not the {SOURCE} tarball")
        for name, want in sorted(pinned.items()):
            data = archive.extractfile(members[_PREFIX + name]).read()
            got = hashlib.sha256(data).hexdigest()
            if got != want:
                raise VoiceError(f"{tarball}: {_PREFIX}{name} has sha256 {got}, pinned {want}: "
                                 f"tampered or not from {SOURCE}; nothing was written")
            packs[name.removesuffix(".bin")] = np.frombuffer(data, dtype="<f4").reshape(PACK_SHAPE)
    return packs


def shipped(packs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The packs Echoic ships (its locales' languages), float16, in id order."""
    return {vid: packs[vid].astype(np.float16) for vid in sorted(packs)
            if native_locale(vid) and vid[0] in SHIPPED_LANGUAGES}


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An .npz (readable by np.load) whose bytes depend only on the arrays: fixed zip timestamps."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, array in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue())
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.voice_packs.import_kokoro_js", description=__doc__.split("\n")[0])
    parser.add_argument("tarball", type=Path, help="kokoro-js-1.2.1.tgz from `npm pack kokoro-js@1.2.1`")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name(PACKS_FILE),
                        help="where to write the packs (default: the package's own packs.npz)")
    args = parser.parse_args(argv)
    try:
        packs = shipped(read_packs(args.tarball))
    except VoiceError as exc:
        print(f"echoic: {exc}", file=sys.stderr)
        return 1
    data = npz_bytes(packs)
    write_atomically(args.out, data)
    print(f"{len(packs)} packs verified and written to {args.out} ({len(data) / 1e6:.1f} MB, "
          f"sha256 {hashlib.sha256(data).hexdigest()[:16]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
