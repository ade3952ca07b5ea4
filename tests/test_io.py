"""The model file: atomic writes, damaged or edited files, nothing unpickled."""

from __future__ import annotations

import struct

import pytest

import minnet
from minnet import ModelFileError


def test_atomic_save_keeps_old_file_on_failure(small_model, tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    small_model.save(path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise KeyboardInterrupt  # as if interrupted mid-write

    import safetensors.torch

    monkeypatch.setattr(safetensors.torch, "save_file", boom)
    with pytest.raises(KeyboardInterrupt):
        small_model.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


def test_model_file_errors(small_model, tmp_path):
    path = tmp_path / "m.safetensors"
    small_model.save(path)
    raw = path.read_bytes()
    (tmp_path / "trunc.safetensors").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ModelFileError, match="not a readable MinNet model file"):
        minnet.load(tmp_path / "trunc.safetensors")
    with pytest.raises(FileNotFoundError):
        minnet.load(tmp_path / "absent.safetensors")
    # a different format version in the JSON header
    n = struct.unpack("<Q", raw[:8])[0]
    header = raw[8 : 8 + n].decode()
    edited = header.replace('\\"format_version\\": 1', '\\"format_version\\": 99')
    assert edited != header
    (tmp_path / "v99.safetensors").write_bytes(
        struct.pack("<Q", len(edited)) + edited.encode() + raw[8 + n :]
    )
    with pytest.raises(ModelFileError, match="format version 99"):
        minnet.load(tmp_path / "v99.safetensors")
    # a pickle is not a model file, and nothing in it runs
    import pickle

    (tmp_path / "evil.safetensors").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ModelFileError):
        minnet.load(tmp_path / "evil.safetensors")


def test_pickle_payloads_are_refused_without_running(small_model, tmp_path):
    import pickle

    marker = tmp_path / "pwned"
    # a raw pickle, and a torch.save() archive (zip + pickle), both carrying the payload
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps(_Payload(marker)))
    import torch

    torch.save({"weights": _Payload(marker)}, tmp_path / "evil.pt")
    # a real model file with a pickle appended as a fake tensor's bytes
    good = tmp_path / "good.safetensors"
    small_model.save(good)
    spliced = good.read_bytes() + pickle.dumps(_Payload(marker))
    (tmp_path / "spliced.safetensors").write_bytes(spliced)
    for name in ("evil.pkl", "evil.pt"):
        with pytest.raises(ModelFileError, match="not a readable MinNet model file"):
            minnet.load(tmp_path / name)
    try:  # extra bytes after the tensors: refused, or ignored, but never unpickled
        minnet.load(tmp_path / "spliced.safetensors")
    except ModelFileError:
        pass
    assert not marker.exists()


def test_edited_metadata_is_refused(small_model, tmp_path):
    import json

    path = tmp_path / "m.safetensors"
    small_model.save(path)
    raw = path.read_bytes()

    def edit_meta(fn):
        def edit(header):
            meta = json.loads(header["__metadata__"]["minnet"])
            fn(meta)
            header["__metadata__"]["minnet"] = json.dumps(meta)
            return header
        return edit

    cases = {
        "fewer_features": lambda m: m["features"]["rna"].pop(),
        "more_labels": lambda m: m["labels"].append("extra"),
        "wider_hidden": lambda m: m["config"].update(n_hidden=m["config"]["n_hidden"] * 2),
        "no_features": lambda m: m.pop("features"),
        "format_name": lambda m: m.update(format="something-else"),
        "gene_activity_key": lambda m: m["config"].update(
            gene_activity={"upstream": 2000, "command": "rm -rf /"}),
    }
    for name, fn in cases.items():
        bad = tmp_path / f"{name}.safetensors"
        bad.write_bytes(_rewrite_header(raw, edit_meta(fn)))
        with pytest.raises(ModelFileError, match="edited or damaged|not a MinNet model file"):
            minnet.load(bad)
    # metadata that is not JSON
    def not_json(header):
        header["__metadata__"]["minnet"] = "{not json"
        return header

    (tmp_path / "nojson.safetensors").write_bytes(_rewrite_header(raw, not_json))
    with pytest.raises(ModelFileError, match="not valid JSON"):
        minnet.load(tmp_path / "nojson.safetensors")
    # a tensor whose shape was edited in the header
    def reshape(header):
        key = next(k for k in header if k != "__metadata__" and len(header[k]["shape"]) == 2)
        header[key]["shape"] = header[key]["shape"][::-1]
        return header

    (tmp_path / "shape.safetensors").write_bytes(_rewrite_header(raw, reshape))
    with pytest.raises(ModelFileError):
        minnet.load(tmp_path / "shape.safetensors")
    # an empty file and a directory
    (tmp_path / "empty.safetensors").write_bytes(b"")
    with pytest.raises(ModelFileError):
        minnet.load(tmp_path / "empty.safetensors")
    with pytest.raises((ModelFileError, FileNotFoundError)):
        minnet.load(tmp_path)


class _Payload:
    """Unpickling this runs code: it creates the file named in ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _rewrite_header(raw: bytes, edit) -> bytes:
    """Return the safetensors file ``raw`` with its JSON header passed through ``edit``."""
    import json

    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + n])
    header = edit(header)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + raw[8 + n :]


def _tensor_bytes(raw: bytes, name: str) -> tuple[int, int]:
    """Byte range of tensor ``name``'s data in the safetensors file ``raw``."""
    import json

    n = struct.unpack("<Q", raw[:8])[0]
    start, end = json.loads(raw[8 : 8 + n])[name]["data_offsets"]
    return 8 + n + start, 8 + n + end


def test_nan_or_inf_weights_are_refused_naming_the_tensor(small_model, tmp_path):
    path = tmp_path / "m.safetensors"
    small_model.save(path)
    raw = path.read_bytes()
    for name, value in (("head.bias", float("nan")), ("encoders.1.0.weight", float("-inf"))):
        start, _ = _tensor_bytes(raw, name)
        bad = bytearray(raw)
        bad[start : start + 4] = struct.pack("<f", value)
        (tmp_path / "bad.safetensors").write_bytes(bytes(bad))
        with pytest.raises(ModelFileError, match=f"tensor '{name}' holds 1 NaN or infinite.*"
                                                 "Re-save the model"):
            minnet.load(tmp_path / "bad.safetensors")


def test_saving_nan_weights_warns_that_load_will_refuse(small_model, tmp_path, caplog):
    import copy

    import torch

    diverged = copy.deepcopy(small_model)
    with torch.no_grad():
        diverged.module.head.weight[0, 0] = float("nan")
    diverged.save(tmp_path / "m.safetensors")  # a checkpoint of a diverged run is still written
    assert "saving NaN or infinite weights (head.weight)" in caplog.text
    with pytest.raises(ModelFileError, match="tensor 'head.weight' holds 1 NaN"):
        minnet.load(tmp_path / "m.safetensors")


def test_paths_that_are_not_regular_files(tmp_path):
    import os

    dev_zero = tmp_path / "zero.safetensors"
    dev_zero.symlink_to("/dev/zero")
    with pytest.raises(ModelFileError, match="not a regular file but a character device; it "
                                             "links to '/dev/zero'"):
        minnet.load(dev_zero)
    fifo = tmp_path / "fifo.safetensors"
    os.mkfifo(fifo)  # opening it would block forever: refused before any open
    with pytest.raises(ModelFileError, match="not a regular file but a named pipe"):
        minnet.load(fifo)
    with pytest.raises(ModelFileError, match="is a folder, not a model file"):
        minnet.load(tmp_path)
    dangling = tmp_path / "dangling.safetensors"
    dangling.symlink_to(tmp_path / "gone.safetensors")
    with pytest.raises(FileNotFoundError, match="symbolic link to .*gone.safetensors.*does not "
                                                "exist"):
        minnet.load(dangling)


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_saved_file_permissions_follow_the_umask(small_model, tmp_path, umask):
    import os
    import stat

    old = os.umask(umask)
    try:
        small_model.save(tmp_path / "m.safetensors")
        small_model.save(tmp_path / "m.safetensors")  # replacing a file: same rule
    finally:
        os.umask(old)
    mode = stat.S_IMODE(os.stat(tmp_path / "m.safetensors").st_mode)
    assert mode == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def test_hostile_headers_are_refused_before_parsing(small_model, tmp_path):
    from minnet.io import MAX_HEADER_BYTES

    path = tmp_path / "m.safetensors"
    small_model.save(path)
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    cases = {
        "short": (raw[:5], "holds only 5 bytes"),
        "header_cut": (raw[: 8 + n // 2], f"header claims {n} bytes but the file holds"),
        "header_longer_than_file": (struct.pack("<Q", 10**15) + raw[8:],
                                    "header claims 1000000000000000 bytes"),
        "header_too_large": (struct.pack("<Q", MAX_HEADER_BYTES + 8) + raw[8:]
                             + b" " * (MAX_HEADER_BYTES + 8),
                             f"exceeds the {MAX_HEADER_BYTES} bytes"),
    }
    for name, (data, message) in cases.items():
        (tmp_path / f"{name}.safetensors").write_bytes(data)
        with pytest.raises(ModelFileError, match=f"not a readable MinNet model file.*{message}"):
            minnet.load(tmp_path / f"{name}.safetensors")

    def metadata_text(text):
        def edit(header):
            header["__metadata__"]["minnet"] = text
            return header
        return edit

    for text, message in (("[1, 2]", "is not a MinNet model file"),
                          ("[" * 100_000 + "]" * 100_000, "not valid JSON \\(nested too deeply"),
                          ('{"format": "minnet-model", "format_version": 1, "modalities": '
                           '{"rna": 1}}', "edited or damaged: 'modalities' is")):
        (tmp_path / "meta.safetensors").write_bytes(_rewrite_header(raw, metadata_text(text)))
        with pytest.raises(ModelFileError, match=message):
            minnet.load(tmp_path / "meta.safetensors")
