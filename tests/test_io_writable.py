"""``save_safetensors`` copies only the tensors safetensors cannot take as they are (no second copy of a checkpoint)."""

from __future__ import annotations

import torch
from safetensors.torch import load_file, save_file

from steering.io import save_safetensors, writable_tensors
from steering.sources.embedded import embedded_weights_path
from steering.sources.readers import read_checkpoint


def test_a_checkpoint_is_written_without_copies_and_byte_identical(tmp_path):
    tensors = read_checkpoint(embedded_weights_path()).tensors
    clean = writable_tensors(tensors)
    assert all(clean[k].data_ptr() == tensors[k].data_ptr() for k in tensors)  # nothing cloned

    save_safetensors(tensors, {"k": "v"}, tmp_path / "new.safetensors")
    cloned = {k: v.detach().contiguous().clone() for k, v in tensors.items()}  # what a clone-everything write does
    save_file(cloned, str(tmp_path / "cloned.safetensors"), metadata={"k": "v"})
    assert (tmp_path / "new.safetensors").read_bytes() == (tmp_path / "cloned.safetensors").read_bytes()


def test_shared_strided_and_partial_tensors_are_copied_and_round_trip(tmp_path):
    base = torch.arange(24.0).reshape(4, 6)
    tensors = {
        "whole": base,
        "alias": base,  # the same storage again
        "rows": base[1:3],  # part of a storage
        "transposed": base.T,  # not contiguous
        "param": torch.nn.Parameter(torch.ones(3)),
        "empty": torch.zeros(0),
    }
    clean = writable_tensors(tensors)
    shares = {k: clean[k].data_ptr() == tensors[k].data_ptr() for k in ("whole", "alias", "rows", "transposed")}
    assert shares == {"whole": True, "alias": False, "rows": False, "transposed": False}
    assert not clean["param"].requires_grad

    save_safetensors(tensors, {}, tmp_path / "t.safetensors")
    back = load_file(str(tmp_path / "t.safetensors"))
    for key, value in tensors.items():
        assert torch.equal(back[key], value.detach()), key
    base += 1  # the written file does not follow later changes
    assert torch.equal(load_file(str(tmp_path / "t.safetensors"))["whole"], torch.arange(24.0).reshape(4, 6))
