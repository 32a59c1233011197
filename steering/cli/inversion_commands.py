"""Commands for editing your own images: ``invert`` (an image → a latents file every command can start from) and
``train-encoder`` (the learned encoder that starts an inversion)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .. import limits
from ..errors import InvalidValueError
from ..inversion import InversionSettings, LossWeights, invert, parse_crop, perceptual, prepare_image
from ..inversion import encoder as encoders
from ..io import save_image
from ..render import grid, to_pil
from ..text import counted
from . import arguments as arg
from .console import Console, echo
from .shared import image_output, load_model, not_an_input, output


def add_arguments(subs: argparse._SubParsersAction, sub, model: argparse.ArgumentParser) -> None:
    """Add ``invert`` and ``train-encoder`` (``sub(name, run, help, parents)`` makes a subcommand)."""
    p = sub("invert", cmd_invert, "invert an image into the model's latent space: a latents file to edit", [model])
    p.add_argument(
        "image", action=arg.Reads, metavar="IMAGE", help="a PNG, JPEG, WebP… (centre-cropped and resized to the model)"
    )
    p.add_argument(
        "-o", "--output", action=arg.Writes, required=True, metavar="OUT.safetensors", help="the latents file to write"
    )
    p.add_argument("--crop", metavar="L,T,W,H", help="cut this box out of the image first (e.g. around the face)")
    p.add_argument("--space", choices=("z", "w", "w+"), help="default: w+ for style-based models, z otherwise")
    p.add_argument(
        "--steps",
        type=arg.setting(InversionSettings, "steps"),
        default=300,
        help="optimisation steps at most (default 300)",
    )
    p.add_argument(
        "--target-psnr",
        type=arg.setting(InversionSettings, "target_psnr"),
        metavar="DB",
        help="stop once the reconstruction reaches this PSNR",
    )
    p.add_argument(
        "--learning-rate", type=arg.setting(InversionSettings, "learning_rate"), help="default 0.2 in z, 0.1 in w/w+"
    )
    p.add_argument("--classes", choices=("soft", "best"), default="soft", help="class-conditional models: soft or best")
    p.add_argument("--no-noise", action="store_true", help="style-based models: keep the stored noise, optimise w only")
    p.add_argument(
        "--structural",
        type=arg.number("the structural weight", 0.0, 1e6),
        default=1.0,
        help="weight of the MS-SSIM term (default 1)",
    )
    p.add_argument("--no-perceptual", action="store_true", help="skip LPIPS even when VGG16 weights are present")
    p.add_argument(
        "--encoder",
        action=arg.Reads,
        metavar="FILE",
        help="start from this encoder's prediction (default: the trained one, if any)",
    )
    p.add_argument("--no-encoder", action="store_true", help="optimise from the prior alone")
    p.add_argument("--seed", type=arg.SEED, default=0, help="seed of the optimisation's randomness (default 0)")
    p.add_argument(
        "--compare",
        action=arg.Writes,
        metavar="OUT.png",
        help="also write the prepared image beside its reconstruction",
    )
    p.add_argument("--json", action="store_true", help="print the figures as JSON")

    p = sub("train-encoder", cmd_train_encoder, "train the encoder that starts inversions (z models)", [model])
    p.add_argument(
        "-o",
        "--output",
        action=arg.Writes,
        metavar="FILE.safetensors",
        help="default: where invert and the UI look for it",
    )
    p.add_argument(
        "--steps",
        type=arg.count("the training steps", 1, encoders.MAX_TRAIN_STEPS),
        default=2000,
        help="training steps (default 2000)",
    )
    p.add_argument(
        "--batch",
        type=arg.count("the batch size", 2, encoders.MAX_BATCH),
        default=64,
        help="pairs per step (default 64)",
    )
    p.add_argument(
        "--pool",
        type=arg.count("the pool of training pairs", 0, limits.MAX_SAMPLES),
        default=8192,
        help="pairs generated once and reused (default 8192; 0: fresh every step)",
    )
    p.add_argument(
        "--learning-rate",
        type=arg.number("the learning rate", 1e-6, 1.0),
        default=1e-3,
        help="Adam's learning rate (default 0.001)",
    )
    p.add_argument("--seed", type=arg.SEED, default=0, help="seed of the pairs and the training (default 0)")


def _encoder(args: argparse.Namespace, generator) -> encoders.TrainedEncoder | None:
    if args.no_encoder:
        if args.encoder:
            raise InvalidValueError("give either --encoder or --no-encoder, not both")
        return None
    if args.encoder:
        return encoders.load_encoder(Path(args.encoder).expanduser(), generator)
    if generator.default_space != "z":
        return None
    return encoders.find_encoder(generator)


def cmd_invert(args: argparse.Namespace, console: Console) -> int:
    out = output(args.output, (".safetensors",), "the latents file", args)  # IMAGE and --encoder are inputs too
    compare = image_output(args.compare, args) if args.compare else None
    if not args.no_perceptual:  # the VGG16 and LPIPS weights it may read
        implicit = [*perceptual.vgg_candidates(), perceptual.lpips_weights_file()]
        for path in (out, compare):
            if path is not None:
                not_an_input(path, [p for p in implicit if p is not None])
    settings = InversionSettings(
        space=args.space,
        steps=args.steps,
        learning_rate=args.learning_rate,
        target_psnr=args.target_psnr,
        optimize_noise=not args.no_noise,
        classes=args.classes,
        weights=LossWeights(structural=args.structural),
        use_perceptual=not args.no_perceptual,
        seed=args.seed,
    )
    generator = load_model(args, console)
    target = prepare_image(Path(args.image).expanduser(), generator.resolution, crop=parse_crop(args.crop))
    for note in target.notes:
        console.info(f"{target.name}: {note}")
    if not (args.no_encoder or args.encoder):  # the trained encoder it may start from
        for path in (out, compare):
            if path is not None:
                not_an_input(path, [encoders.default_path(generator)])
    encoder = _encoder(args, generator)
    with console.progress("inverting", unit="step") as progress:
        result = invert(generator, target, settings, encoder=encoder, progress=progress)
    result.save(out, generator)
    if compare is not None:
        images = [target.image, *to_pil(result.image)]
        save_image(grid(images, columns=2, column_labels=["image", f"reconstruction {result.psnr:.1f} dB"]), compare)
    figures = {
        "output": str(out),
        "space": result.space,
        "psnr": round(result.psnr, 2),
        "ssim": round(result.ssim, 4),
        "steps": result.steps,
        "stopped": result.stopped,
        "initial": result.initial,
        "seconds": round(result.seconds, 2),
        "loss": result.terms,
        "image_sha256": target.sha256,
    }
    if result.class_index is not None:
        figures["class"] = generator.class_names[result.class_index]
    if args.json:
        echo(json.dumps(figures))
    else:
        klass = f", class {figures['class']!r}" if "class" in figures else ""
        echo(
            f"{out}: PSNR {result.psnr:.2f} dB, SSIM {result.ssim:.3f} after {counted(result.steps, 'step')} in "
            f"{result.space} ({result.stopped}; start: {result.initial}{klass}; loss: {' + '.join(result.terms)})"
        )
    return 0


def cmd_train_encoder(args: argparse.Namespace, console: Console) -> int:
    generator = load_model(args, console)
    encoders.check_encodable(generator)
    out = output(args.output, (".safetensors",), "the encoder file", args) if args.output else None
    with console.progress("training the encoder", unit="step") as progress:
        trained = encoders.train_encoder(
            generator, args.steps, args.batch, args.learning_rate, args.seed, progress, args.pool or None
        )
    path = trained.save(out or encoders.default_path(generator))
    t = trained.training
    done = f"{counted(t['steps'], 'step')} × {counted(t['batch'], 'image')}"
    echo(f"{path}: {done} in {t['seconds']:.0f} s, final loss {t['final_loss']:.4f}")
    return 0


__all__ = ["add_arguments", "cmd_invert", "cmd_train_encoder"]
