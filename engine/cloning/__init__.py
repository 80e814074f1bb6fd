"""Voice cloning: a recording of one person becomes a voice pack every locale can speak with.

    recording.py  load_recording: read, resample and check the reference (numpy; soundfile for FLAC)
    fit.py        fit_voice: the pack fitted by analysis-by-synthesis (torch: the `train` extra)
    store.py      VoiceStore: the user's voices on disk, where the engine's VoiceLibrary finds them
    cli.py        `echoic voice create|list|show|remove`

Only fit.py (and Resemblyzer in the recording's speaker check, when installed) imports torch; the
daemon reads the stored packs through engine/voices.py and never imports this package.
"""
