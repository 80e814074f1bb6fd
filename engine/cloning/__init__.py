"""Voice cloning: a recording of one person becomes a voice pack every locale can speak with.

    recording.py  load_recording: read, resample and check the reference (numpy; soundfile for FLAC)
    prior.py      the space of real voice packs a fitted pack stays within
    store.py      VoiceStore: the user's voices on disk, where the engine's VoiceLibrary finds them
    cli.py        `echoic voice create|list|show|remove`

The fit itself (`fit_voice`, analysis-by-synthesis through the torch twin) and its speaker encoder
are on the training side, engine/train/clone_fit.py and engine/train/speaker.py (the `train`
extra); nothing here imports torch (the recording's speaker check reaches Resemblyzer through
engine/train/speaker.py when both are installed, else it compares pitch). The daemon reads the
stored packs through engine/voices.py.
"""
