"""Resuming an interrupted training at its last finished epoch, with the same final weights.

A training that stops part-way (Ctrl-C, ``kill -9``, power loss) leaves in its backup folder
the weights and optimizer state of its last finished epoch (Keras' ``BackupAndRestore``), the
logs of the epochs so far, and a fingerprint of everything the training depends on. The next
run with the same fingerprint starts at the next epoch and replays the earlier epochs' logs, so
its model, card and DVCLive log are those of an uninterrupted run: batches depend only on
(seed, epoch, batch), and the optimizer's restored step count drives the learning-rate schedule.
A backup with another fingerprint (params or data changed) is discarded. The backup lives
outside the stage's outputs, which DVC deletes before it reruns a stage, and goes once the
model is saved. Not restored: early stopping's patience count (``train.patience``), which
starts again at the resumed epoch.
"""

import hashlib
import json
import logging
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

FINGERPRINT = "fingerprint.txt"
LOGS = "epochs.jsonl"
# Written by keras.callbacks.BackupAndRestore.
METADATA = "training_metadata.json"
WEIGHTS = "latest.weights.h5"


def readable(weights: Path) -> bool:
    """Whether the backup's weights file opens: a kill while it was written leaves it torn."""
    import h5py

    try:
        with h5py.File(weights, "r"):
            return True
    except OSError:
        return False


def fingerprint(settings, files: list[Path]) -> str:
    """A SHA-256 over ``settings`` (JSON-able) and the bytes of those ``files`` that exist."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for path in files:
        if Path(path).is_file():
            digest.update(Path(path).read_bytes())
    return digest.hexdigest()


class Backup:
    """The backup of one training in ``folder`` (None: no backup, every run starts afresh)."""

    def __init__(self, folder: Path | None, fingerprint: str):
        self.folder = None if folder is None else Path(folder)
        self.fingerprint, self.start_epoch, self.logs = fingerprint, 0, []
        if self.folder is None or not (self.folder / METADATA).is_file():
            return
        stamp = self.folder / FINGERPRINT
        if not stamp.is_file() or stamp.read_text() != fingerprint:
            log.info("%s: params or data changed since it was written; starting afresh", folder)
            self.remove()
            return
        try:  # Keras writes its metadata in place: a kill mid-write leaves it empty or cut.
            epoch = int(json.loads((self.folder / METADATA).read_text())["epoch"])
        except (ValueError, KeyError, TypeError):
            epoch = None
        logs = self.folder / LOGS
        lines = logs.read_text().splitlines() if logs.is_file() else []
        # The logs are written before the weights: a kill in between leaves one epoch more.
        if epoch is None or len(lines) < epoch or not readable(self.folder / WEIGHTS):
            log.info("%s: incomplete (killed while writing it?); starting afresh", folder)
            self.remove()
            return
        self.start_epoch = epoch
        self.logs = [json.loads(line) for line in lines[:epoch]]
        log.info("resuming from %s at epoch %d", folder, self.start_epoch + 1)

    def callbacks(self) -> list:
        """The Keras callbacks that keep the backup, in the order they must run."""
        if self.folder is None:
            return []
        import keras

        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / FINGERPRINT).write_text(self.fingerprint)
        folder, kept = self.folder, list(self.logs)

        class WriteLogs(keras.callbacks.Callback):
            """Append each finished epoch's logs, before BackupAndRestore saves its weights."""

            def on_epoch_end(self, epoch, logs=None):
                kept.append({key: float(value) for key, value in (logs or {}).items()})
                (folder / LOGS).write_text("".join(json.dumps(row) + "\n" for row in kept))

        # Deleted by remove(), once the model is saved, not when fit() ends.
        restore = keras.callbacks.BackupAndRestore(str(folder), delete_checkpoint=False)
        return [WriteLogs(), restore]

    def replay(self, callback) -> None:
        """Give ``callback`` (DVCLive's) the earlier epochs' logs, as if it had seen them."""
        for epoch, logs in enumerate(self.logs):
            callback.on_epoch_end(epoch, dict(logs))

    def history(self, history: dict) -> dict:
        """The whole run's history: the earlier epochs' logs, then ``history`` (Keras')."""
        keys = list(history) or list(self.logs[0] if self.logs else [])
        return {key: [row[key] for row in self.logs] + list(history.get(key, [])) for key in keys}

    def remove(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
