"""Slider-to-image latency in the core: edit + synthesis + conversion to a PIL image, against the bare generator
forward on the same latents, on the embedded DCGAN (CPU, batch 1). Run: ``python bench/bench_edit.py``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import interleaved_medians

from steering import edit, load_generator
from steering.methods import sefa
from steering.render import to_pil


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="dcgan-faces")
    parser.add_argument("--repeats", type=int, default=900)
    parser.add_argument("--directions", type=int, default=10)
    args = parser.parse_args()
    generator = load_generator(args.model)
    directions = sefa(generator, num_directions=args.directions)
    base = generator.sample(1, seed=0)
    strengths = {i: 0.5 * (i + 1) for i in range(len(directions))}  # every slider moved
    moved = edit.apply(generator, base, directions, strengths)

    @torch.no_grad()
    def bare() -> object:
        return generator.synthesize(moved)  # the generator alone, on the already-edited latents

    def slider_change() -> object:  # what the core does when a slider moves: edit, then synthesis
        return edit.synthesize(generator, edit.apply(generator, base, directions, strengths))

    def slider_to_pil() -> object:  # ... plus the conversion to the PIL image a UI displays
        return to_pil(edit.synthesize(generator, edit.apply(generator, base, directions, strengths)))[0]

    medians = interleaved_medians(
        {"bare forward": bare, "edit + synthesis": slider_change, "... + PIL image": slider_to_pil},
        repeats=args.repeats,
    )
    print(f"model {args.model}, {len(directions)} directions (all moved), batch 1, threads {torch.get_num_threads()}")
    for name, seconds in medians.items():
        relative = "" if name == "bare forward" else f"  ({(seconds / medians['bare forward'] - 1) * 100:+.1f}%)"
        print(f"  {name:<18} {seconds * 1000:8.3f} ms{relative}")
    overhead = medians["edit + synthesis"] / medians["bare forward"] - 1
    print(
        f"overhead of a slider change (edit + synthesis) over the bare forward: {overhead * 100:+.1f}%"
        " (requirement: <= 10%)"
    )


if __name__ == "__main__":
    main()
