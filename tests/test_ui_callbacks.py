"""The UI's handlers, called directly on the real embedded DCGAN (no browser): each tab's behaviour end to end."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

gr = pytest.importorskip("gradio")

from extension import compat  # noqa: E402
from extension.feedback import bind  # noqa: E402
from extension.session import DirectionsStore, SessionExpiredError, StoreFullError, directions_store  # noqa: E402
from extension.settings import UISettings  # noqa: E402
from extension.tabs import discover as discover_tab  # noqa: E402
from extension.tabs import edit as edit_tab  # noqa: E402
from steering.directions import Directions  # noqa: E402
from steering.errors import DirectionsFileError, DirectionsMismatchError, InvalidValueError  # noqa: E402

MODEL = "dcgan-faces"
K = 4  # directions discovered in these tests
MAX = 6  # sliders


@pytest.fixture()
def settings(tmp_path, dcgan):  # dcgan: the model is loaded (and converted) once per session
    return UISettings(output_dir=tmp_path / "outputs", device="cpu", default_model=MODEL, max_sliders=MAX)


@pytest.fixture()
def key(settings):
    """A fresh SeFa set in the store, as the Discover button leaves it."""
    _, key, _, _, _ = discover_tab.discover(settings, MODEL, "sefa", K, "all", 0)
    return key


def opened(image):
    """A handler's image output: a PIL image, or the path of the preview file it wrote."""
    from PIL import Image

    return image if hasattr(image, "convert") else Image.open(image)


def pixels(image) -> np.ndarray:
    return np.asarray(opened(image).convert("RGB"), dtype=np.int16)


def state(key, seed=3, truncation=1.0, start_key="", noise="const", walk="linear", target=1, mode="slerp", klass=None):
    """The Edit tab's state inputs after the model spec: set, start, seed, ψ, class, noise, walk, interpolation."""
    return (key, start_key, seed, truncation, klass, noise, walk, target, mode)


def render(settings, key, seed=3, truncation=1.0, *sliders, towards=0.0, spec=MODEL, **options):
    return edit_tab.render(settings, spec, *state(key, seed, truncation, **options), towards, *sliders)


def view_parts(settings, key, seed=3, truncation=1.0, spec=MODEL):
    out = edit_tab.view(settings, spec, *state(key, seed, truncation))
    sliders, rest = out[:MAX], out[MAX:]
    _towards, image, info, sweep_pick, gif_pick, rename_pick, low, high, _walk, _noise, _class = rest
    return sliders, image, info, sweep_pick, gif_pick, rename_pick, low, high


def test_discover_returns_directions_and_spectrum(settings):
    spec, key, spectrum, summary, status = discover_tab.discover(settings, MODEL, "sefa", K, "all", 0)
    found = directions_store.get(key)
    assert spec == MODEL and isinstance(found, Directions) and len(found) == K and found.method == "sefa"
    values = found.values.tolist()
    assert values == sorted(values, reverse=True) and all(v > 0 for v in values)
    # The spectrum is a real chart: tallest bar first, and bars shrink with the eigenvalues.
    assert spectrum.size == (640, 320)
    heights = bar_heights(spectrum, K)
    assert heights[0] == max(heights) and heights[0] > heights[-1] > 0
    assert "dcgan" in summary and "✓" in status

    _, gkey, gspectrum, _, _ = discover_tab.discover(settings, MODEL, "ganspace", 3, "all", 300)
    gfound = directions_store.get(gkey)
    assert gfound.method == "ganspace" and len(gfound) == 3 and gspectrum is not None
    assert gfound.params["feature"] == "fc"  # the default for a z-only model: its first layer

    # GANSpace on a chosen layer: the picker lists the model's named features after a load
    _, _, *pickers = discover_tab.load_model(settings, MODEL)
    picker = pickers[list(discover_tab.parameters()).index("feature")]
    assert "block2" in picker["choices"] or ["block2", "block2"] in picker["choices"]
    _, bkey, _, _, _ = discover_tab.discover(settings, MODEL, "ganspace", 2, "all", 200, 0, "block2")
    assert directions_store.get(bkey).params["feature"] == "block2"


def bar_heights(chart, k: int) -> list[int]:
    """Number of bar-coloured pixels in each of the k bar slots (the plot area spans x in [56, width-12])."""
    arr = np.asarray(chart)
    is_bar = (arr[..., 0] == 79) & (arr[..., 1] == 70) & (arr[..., 2] == 229)
    left, right = 56, chart.size[0] - 12
    slot = (right - left) / k
    return [int(is_bar[:, int(left + i * slot) : int(left + (i + 1) * slot)].sum()) for i in range(k)]


def test_every_method_runs_from_the_inputs_it_shows(settings):
    """Switching method shows that method's own labels and defaults (never another method's, nor a Python list),
    and Discover with exactly what is shown works for every method on the faces (unconditional: no class)."""
    from steering import methods

    names = list(discover_tab.parameters())
    for method in methods.METHODS.values():
        shown = discover_tab.method_options(method.name, settings.max_sliders)
        own = {p.name: p for p in method.parameters}
        for name, update in zip(names, shown, strict=True):
            assert update["visible"] == (name in own), (method.name, name)
            if name in own:
                assert update["label"] == own[name].help, (method.name, name)
                if own[name].type != "choices":  # a multi-select holds a list; a text field never shows one
                    assert "[" not in str(update.get("value", "")), (method.name, name, update.get("value"))
        if method.name in ("sc2gan", "gradctrl", "boundaries"):
            continue  # scored samples and training: their own tests (tab and method) run them with small sizes
        quick = {"num_samples": 300, "num_directions": 2}
        inputs = [
            quick.get(n, discover_tab.shown_default(own[n], settings.max_sliders)) if n in own else None for n in names
        ]
        _, key, _, _, status = discover_tab.discover(settings, MODEL, method.name, *inputs)
        assert directions_store.get(key).method == method.name and "✓" in status, method.name


def test_the_edit_tab_describes_its_set_in_words(settings):
    """The info under the image: the set's own noun (singular for one), the sliders' range (one, or per slider),
    parameters in words (no Python repr, no quotes, no broken HTML entities); names with quotes stay readable."""
    from extension.tabs.common import directions_summary, md

    _, key, _, _, status = discover_tab.discover(
        settings, MODEL, "interpolation", *_method_inputs(settings, "interpolation", num_directions=1)
    )
    found = directions_store.get(key)
    assert "1 interpolation path " in status and "paths" not in status
    summary = directions_summary(found)
    assert "1 interpolation path**" in summary and "[" not in summary and "&#x27;" not in summary
    assert "seeds 0,1" in summary  # parameters as the core writes values (text.plain, the CLI's and recipes' way)
    _, key, _, _, _ = discover_tab.discover(settings, MODEL, "steerability", *_method_inputs(settings, "steerability"))
    steer = directions_store.get(key)
    summary = directions_summary(steer)
    assert "transformations**" in summary and "a range per slider" in summary  # each slider ends where it ends
    assert "\\[" not in summary and "&#x27;" not in summary and "transformations shift" in summary
    assert md("Bob's <b>") == "Bob&#x27;s &lt;b&gt;"  # the entity stays whole (it was escaped into "&\\#x27;")


def _method_inputs(settings, method: str, **given):
    """The Discover tab's inputs as it shows them for ``method`` (own defaults, others empty)."""
    from steering import methods

    own = {p.name: p for p in methods.method(method).parameters}
    return [
        given.get(n, discover_tab.shown_default(own[n], settings.max_sliders)) if n in own else None
        for n in discover_tab.parameters()
    ]


def test_a_refresh_keeps_the_walk_the_user_chose(settings):
    """A new start or set re-reads the state, and keeps the great-circle walk where the set still offers it."""
    _, key, _, _, _ = discover_tab.discover(settings, MODEL, "sefa", K, "all", 0)
    walk = edit_tab.view(settings, MODEL, *state(key, walk="great-circle"))[MAX + 8]
    assert walk["value"] == "great-circle" and "great-circle" in walk["choices"]
    _, path_key, _, _, _ = discover_tab.discover(
        settings, MODEL, "interpolation", *_method_inputs(settings, "interpolation")
    )
    walk = edit_tab.view(settings, MODEL, *state(path_key, walk="great-circle"))[MAX + 8]
    assert walk["value"] == "linear"  # a path offers no great circle


def test_discover_refuses_bad_parameters(settings):
    with pytest.raises(InvalidValueError, match=r"[Nn]umber of directions"):
        discover_tab.discover(settings, MODEL, "sefa", 0, "all", 0)
    with pytest.raises(InvalidValueError, match="layer"):
        discover_tab.discover(settings, MODEL, "sefa", 3, "fine", 0)  # DCGAN's only layer is 4×4
    with pytest.raises(InvalidValueError, match="unknown method"):
        discover_tab.discover(settings, MODEL, "nope", 3, "all", 0)
    with pytest.raises(gr.Error, match="is not a catalog model") as refused:
        bind(discover_tab.discover, settings)("no-such-model", "sefa", 3, "all", 0)
    if compat.GRADIO_MAJOR >= 5:  # Gradio would print a user's mistake as a server traceback otherwise
        assert refused.value.print_exception is False


def test_view_shows_one_slider_per_direction(settings, key):
    sliders, _, info, sweep_pick, gif_pick, _, low, high = view_parts(settings, key)
    found = directions_store.get(key)
    lo, hi = found.strength_range
    assert [s["visible"] for s in sliders] == [True] * K + [False] * (MAX - K)
    assert [s["label"] for s in sliders[:K]] == [found.label(i) for i in range(K)]
    assert all(s["value"] == 0.0 for s in sliders)
    assert sliders[0]["minimum"] == lo and sliders[0]["maximum"] == hi and 0 < sliders[0]["step"] < hi - lo
    assert len(sweep_pick["choices"]) == K + 1 and gif_pick["value"] == "0.0: sefa 0"  # + the interpolation
    assert low["value"] == lo and high["value"] == hi and f"{K} sefa directions" in info


def test_the_pickers_follow_a_new_seed_and_keep_what_was_picked(settings, key):
    """The interpolation's label names both seeds: a new seed or target relabels it in the sweep and animation
    pickers, and what was picked (under its old label) stays picked."""
    *_, sweep_pick, gif_pick, _, _, _ = view_parts(settings, key, seed=3)
    old = sweep_pick["choices"][-1]
    assert old.endswith("seed 3 → seed 1")
    held = ["0.1: sefa 1", old]
    sweep, gif = edit_tab.relabel_pickers(settings, MODEL, *state(key, seed=7, target=9), held, old)
    new = sweep["choices"][-1]
    assert new.endswith("seed 7 → seed 9") and new.split(":")[0] == old.split(":")[0]
    assert sweep["choices"][:-1] == gif_pick["choices"][:-1] and gif["choices"] == sweep["choices"]
    assert sweep["value"] == ["0.1: sefa 1", new] and gif["value"] == new
    sweep, gif = edit_tab.relabel_pickers(settings, MODEL, *state(key, seed=7), [], None)  # nothing held: the first
    assert sweep["value"] == sweep["choices"][:1] and gif["value"] == sweep["choices"][0]


def test_moving_a_slider_changes_the_image_and_reset_restores_it(settings, key):
    _, base, *_ = view_parts(settings, key)
    hi = directions_store.get(key).strength_range[1]
    same = render(settings, key, 3, 1.0, *([0.0] * MAX))
    moved = render(settings, key, 3, 1.0, hi, *([0.0] * (MAX - 1)))
    assert np.array_equal(pixels(same), pixels(base))
    assert np.abs(pixels(moved) - pixels(base)).mean() > 2.0
    other = render(settings, key, 3, 1.0, 0.0, hi, *([0.0] * (MAX - 2)))
    assert not np.array_equal(pixels(other), pixels(moved))  # each slider moves its own direction

    out = edit_tab.reset(settings, MODEL, *state(key))
    assert [u["value"] for u in out[:MAX]] == [0.0] * MAX and out[MAX]["value"] == 0.0
    assert np.array_equal(pixels(out[MAX + 1]), pixels(base))


def test_seed_and_truncation_change_the_image(settings, key):
    a = render(settings, key, 1, 1.0)
    b = render(settings, key, 2, 1.0)
    c = render(settings, key, 1, 0.5)
    assert not np.array_equal(pixels(a), pixels(b)) and not np.array_equal(pixels(a), pixels(c))
    seed, start = edit_tab.random_seed(settings)
    assert 0 <= seed < 2**31 and start == ""
    assert render(settings, key, None, 1.0) == compat.unchanged()  # seed box being retyped


def test_nan_strength_and_bad_seed_are_refused(settings, key):
    with pytest.raises(InvalidValueError, match="finite"):
        render(settings, key, 3, 1.0, math.nan)
    with pytest.raises(gr.Error, match="finite"):
        bind(edit_tab.render, settings)(MODEL, *state(key), 0.0, math.inf)
    with pytest.raises(gr.Error, match="seed"):
        bind(edit_tab.render, settings)(MODEL, *state(key, math.nan), 0.0)
    with pytest.raises(gr.Error, match="truncation"):
        bind(edit_tab.render, settings)(MODEL, *state(key, 3, 0.0), 0.0)


def test_rename_persists_into_the_saved_file(settings, key):
    out = edit_tab.rename_direction(settings, key, "1: sefa 1", "  smile ")
    sliders, (rename_pick, path, status) = out[:MAX], out[MAX:]
    assert "smile" in sliders[1]["label"] and "label" not in sliders[0]
    assert rename_pick["value"] == "1: smile" and "smile" in status
    _, _, _, sweep_pick, gif_pick, *_ = view_parts(settings, key)
    assert "0.1: smile" in sweep_pick["choices"] and "0.1: smile" in gif_pick["choices"]
    assert directions_store.get(key).names[1] == "smile"
    assert Directions.load(path).names == ["sefa 0", "smile", "sefa 2", "sefa 3"]
    saved, _ = edit_tab.save_directions(settings, key)
    assert saved.startswith(str(settings.output_dir)) and Directions.load(saved).names[1] == "smile"
    with pytest.raises(InvalidValueError, match="empty"):
        edit_tab.rename_direction(settings, key, "1: smile", "   ")


def test_png_info_of_controls_it_cannot_recompute_says_what_to_do_in_the_page(settings, key):
    """A PNG made with edited directions (recomputing the method gives other vectors): the Edit tab asks for their
    direction file in the page, not for the CLI's --directions; the CLI keeps its own wording (a typed error)."""
    from steering.recipe import ControlsNotFoundError

    current = directions_store.get(key)
    edited = directions_store.put(dataclasses.replace(current, vectors=-current.vectors))
    _, png, _ = edit_tab.sweep(settings, MODEL, *state(edited), ["0.1: sefa 1"], -2, 2, 3)
    _, other, *_ = discover_tab.discover(settings, MODEL, "sefa", K, "all", 0)  # the set as SeFa computes it
    with pytest.raises(gr.Error) as refused:
        bind(edit_tab.restore, settings)(MODEL, other, png)
    message = refused.value.message
    assert "--directions" not in message and "sefa" in message and "Direction file" in message
    from steering import load_generator, recipe

    with pytest.raises(ControlsNotFoundError, match="--directions") as typed:
        recipe.controls_of(recipe.read_recipe(png), load_generator(MODEL))
    assert typed.value.method == "sefa"


def test_upload_round_trip(settings, key, tmp_path):
    saved, _ = edit_tab.save_directions(settings, key)
    new_key, status = edit_tab.upload_directions(settings, MODEL, "", saved)
    assert new_key != key and "loaded 4 sefa" in status
    torch = pytest.importorskip("torch")
    assert torch.equal(directions_store.get(new_key).vectors, directions_store.get(key).vectors)


def test_upload_for_another_model_is_refused_and_current_directions_stay(settings, key, tmp_path):
    current = directions_store.get(key)
    foreign = dataclasses.replace(current, model=dataclasses.replace(current.model, sha256="ab" * 32, name="other-gan"))
    path = foreign.save(tmp_path / "foreign.safetensors")
    with pytest.raises(DirectionsMismatchError, match="other-gan"):
        edit_tab.upload_directions(settings, MODEL, key, str(path))
    with pytest.raises(gr.Error) as refused:
        bind(edit_tab.upload_directions, settings)(MODEL, key, str(path))
    assert "made for model 'other-gan'" in refused.value.message and "recompute" in refused.value.message
    assert directions_store.get(key) is current  # nothing lost


def test_corrupt_or_missing_upload_is_refused(settings, key, tmp_path):
    current = directions_store.get(key)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with pytest.raises(DirectionsFileError):
        edit_tab.upload_directions(settings, MODEL, key, str(broken))
    with pytest.raises(gr.Error, match="choose a direction file"):
        bind(edit_tab.upload_directions, settings)(MODEL, key, None)
    assert directions_store.get(key) is current


def test_sweep_and_gif_write_files_into_output_dir(settings, key):
    grid, path, status = edit_tab.sweep(settings, MODEL, *state(key), ["0.0: sefa 0", "0.2: sefa 2"], -2, 2, 5)
    assert path in status and grid == path
    from PIL import Image

    with Image.open(path) as saved:
        grid = saved.copy()
        assert saved.format == "PNG"
    assert path.startswith(str(settings.output_dir)) and grid.size[0] > 5 * 64 and grid.size[1] > 2 * 64

    animated = (settings, MODEL, *state(key), "0.1: sefa 1", -2, 2, 6, 10)  # then the format
    image, video, gif, _ = edit_tab.export_animation(*animated, "GIF")
    preview = image["value"]
    assert gif.startswith(str(settings.output_dir)) and gif.endswith(".gif") and preview.endswith(".gif")
    assert image["visible"] and video == compat.update(value=None, visible=False)  # a GIF shows as an image
    with Image.open(gif) as anim, Image.open(preview) as shown:
        assert anim.is_animated and anim.n_frames == 2 * 6 - 2  # forward then back
        # the preview: the same frames upscaled for the screen (the saved file keeps the model's 64 px)
        assert shown.n_frames == anim.n_frames and anim.size == (64, 64) and min(shown.size) >= 256

    # An MP4 plays in the video preview (the file itself), the image preview hidden.
    image, video, mp4, status = edit_tab.export_animation(*animated, "MP4")
    assert mp4.startswith(str(settings.output_dir)) and mp4.endswith(".mp4") and mp4 in status
    assert "strengths -2 … 2 (the sweep grid's From/To)" in status  # the range used is said, the boxes are elsewhere
    assert video == compat.update(value=mp4, visible=True) and image == compat.update(value=None, visible=False)
    import imageio_ffmpeg

    assert imageio_ffmpeg.count_frames_and_secs(mp4)[0] == 2 * 6 - 2
    with pytest.raises(InvalidValueError, match="choose at least one"):
        edit_tab.sweep(settings, MODEL, *state(key), [], -2, 2, 5)


def test_no_or_expired_directions(settings):
    _, image, info, *_ = view_parts(settings, "")
    assert opened(image).size[0] >= 256 and "No directions yet" in info  # the unedited image still shows
    with pytest.raises(SessionExpiredError, match="no longer in memory"):
        edit_tab.save_directions(settings, "0" * 32)
    with pytest.raises(SessionExpiredError, match=r"starting point \(latents file\) is no longer in memory.*upload"):
        edit_tab.render(settings, MODEL, "", "1" * 32, 3, 1.0, None, "const", "linear", 1, "slerp", 0.0)


class Sized:
    def __init__(self, nbytes: int) -> None:
        self.nbytes = nbytes


def test_one_users_directions_survive_many_discoveries_of_others():
    store = DirectionsStore(budget_bytes=100_000, keep_per_session=2)
    mine = store.put(Sized(1000), "alice")
    for i in range(256):  # others discover again and again; each of them keeps only their latest two
        store.put(Sized(1000), f"user-{i % 16}")
    assert store.find(mine) is not None and store.used_bytes() <= 100_000
    older = [store.put(Sized(1000), "bob") for _ in range(3)]
    for i in range(200):
        store.put(Sized(1000), f"user-{i % 16}")
    assert store.find(older[0]) is None and store.find(older[2]) is not None  # beyond bob's latest two: may go
    with pytest.raises(SessionExpiredError, match="no longer in memory"):
        store.get(older[0])  # an evicted key says so; it never silently means something else


def test_store_is_sized_by_memory_and_ended_sessions_free_it():
    clock = [0.0]
    store = DirectionsStore(budget_bytes=10_000, keep_per_session=8, session_ttl=60, clock=lambda: clock[0])
    big = store.put(Sized(6000), "alice")
    with pytest.raises(StoreFullError, match="try again"):
        store.put(Sized(6000), "bob")  # alice is alive and holds it: bob is told, alice keeps hers
    assert store.find(big) is not None
    store.end_session("alice")
    assert store.find(big) is None and store.used_bytes() == 0
    first = store.put(Sized(6000), "bob")
    clock[0] = 120.0  # bob idle past the TTL: his entry may now make room
    store.put(Sized(6000), "carol")
    assert store.find(first) is None


def test_file_path_accepts_every_versions_upload_value(tmp_path):
    class TempFile:  # gradio 3.x hands a tempfile wrapper with .name
        name = str(tmp_path / "a.safetensors")

    assert compat.file_path(TempFile()) == str(tmp_path / "a.safetensors")
    assert compat.file_path("/x/y.safetensors") == "/x/y.safetensors"
    assert compat.file_path({"path": "/x/z"}) == "/x/z" and compat.file_path(None) is None
    assert compat.file_path(["/x/w"]) == "/x/w"


def test_app_and_tabs_build(settings):
    from extension.ui import build_app, build_tabs

    tabs = build_tabs(settings)
    assert len(tabs) == 1 and tabs[0][1:] == ("GAN Steering", "gan_steering")
    config = compat.config_of(build_app(settings))
    ids = [c["props"].get("elem_id") for c in config["components"] if c["props"].get("elem_id")]
    assert len(ids) == len(set(ids)) and "gan_steering_strength_0" in ids
    assert sum(i.startswith("gan_steering_strength_") for i in ids) == MAX
    labels = [c["props"]["label"] for c in config["components"] if c["props"].get("label")]
    assert len(labels) == len(set(labels)), "a webui keys saved defaults by label: labels must be unique"


def test_loading_another_model_blanks_the_previous_models_results(settings):
    """Results of every tab (images, files, tables, status lines) go after a model switch by Load, Discover or the
    Hub tab, and stay when the same model is loaded again."""
    from extension.ui import blank_of, build_app, forget_results

    blanks = [blank_of(gr.Image()), blank_of(gr.Markdown()), blank_of(gr.Video())]
    assert forget_results(settings, MODEL, MODEL, blanks) == [MODEL, *[compat.unchanged()] * 3]
    switched = forget_results(settings, "dcgan-eyes", MODEL, blanks)
    empty, text, player = compat.update(value=None), compat.update(value=""), compat.update(value=None, visible=False)
    assert switched == ["dcgan-eyes", empty, text, player]
    config = compat.config_of(build_app(settings))
    ids = {c["props"].get("elem_id"): c["id"] for c in config["components"]}
    shown = ("gan_steering_sweep_image", "gan_steering_invert_status", "gan_steering_lb_chart", "gc_grid", "cc_status")
    wanted = {ids[name] for name in shown}
    assert sum(wanted <= set(d["outputs"]) for d in config["dependencies"]) == 3


def test_push_refuses_without_repo_or_directions(settings, key):
    from extension.tabs import hub as hub_tab

    with pytest.raises(InvalidValueError, match="owner/name"):
        hub_tab.push(settings, MODEL, key, "  ", "", False)
    with pytest.raises(gr.Error, match="no directions yet"):
        bind(hub_tab.push, settings)(MODEL, "", "someone/repo", "", False)


@pytest.mark.hub
def test_hub_tab_loads_a_model_and_pulls_directions(hub, settings, key, tmp_path):
    """Against a local Hub-protocol server: a Hub copy of the embedded weights, directions published beside it."""
    torch = pytest.importorskip("torch")
    from extension.tabs import hub as hub_tab
    from steering import share
    from steering.sources.embedded import embedded_weights_path

    model_repo = hub.new_repo_id("dcgan")
    hub.commit(model_repo, {"G.pt": embedded_weights_path()})
    spec, summary, status = hub_tab.load_hub_model(settings, f" {model_repo}:G.pt ", "")
    assert spec == f"{model_repo}:G.pt" and "dcgan" in summary and "✓" in status

    current = directions_store.get(key)  # made for the embedded file: same sha256, so it fits the Hub copy
    folder = share.build_upload_folder(current, tmp_path / "up", repo_id="x/y")
    repo = hub.new_repo_id("directions")
    hub.commit(repo, {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()})
    new_key, status = hub_tab.pull(settings, spec, repo, "")
    assert new_key != key and torch.equal(directions_store.get(new_key).vectors, current.vectors)
    sliders, _, info, *_ = view_parts(settings, new_key, spec=spec)  # the Edit tab works on the Hub model
    assert "4 sefa directions" in info and [s["visible"] for s in sliders].count(True) == K

    missing = hub.new_repo_id("missing")
    with pytest.raises(gr.Error) as refused:
        bind(hub_tab.pull, settings)(spec, missing, "")
    assert missing in refused.value.message


def test_geometric_controls_through_the_discover_and_edit_tabs(settings):
    """Steerability from the Discover tab's inputs (transformations picked or typed, forbid), sliders that stop at
    the natural end-point in the Edit tab, a strip; principal directions with a scale picker filled from the model."""
    names = list(discover_tab.parameters())

    def values(**given):
        return [given.get(n, p.default) for n, p in discover_tab.parameters().items()]

    shown = discover_tab.method_options("steerability")
    visible = {n for n, u in zip(names, shown, strict=True) if u["visible"]}
    assert {"transformations", "walk", "others", "forbid", "keep_norm"} <= visible and "layers" not in visible
    picked = ["shift-x+", "zoom-in∘shift-y+"]
    _, key, chart, _, status = discover_tab.discover(settings, MODEL, "steerability", *values(transformations=picked))
    found = directions_store.get(key)
    assert found.kind == "affine" and len(found) == 2 and "2 steerability" in status
    # The faces' mean map is spatially flat: its change is 0 for every move, so no chart of zeros and no "λ=0".
    assert float(found.values.abs().max()) == 0.0 and chart is None and "0 for each" in status
    assert "=" not in found.label(0)
    sliders = view_parts(settings, key)[0]
    assert "ends at" in sliders[0]["label"] and sliders[0]["maximum"] == found.slider(0).end_point
    assert sliders[0]["minimum"] < 0 and sliders[1]["minimum"] == 0  # a composition with a zoom has no backward map
    moved = render(settings, key, 3, 1.0, 2.0, 0.0)
    assert np.abs(pixels(moved) - pixels(render(settings, key, 3, 1.0, 0.0, 0.0))).mean() > 1.0
    _, forbid_key, *_ = discover_tab.discover(
        settings, MODEL, "steerability", *values(transformations="zoom-in", others="forbid")
    )
    assert directions_store.get(forbid_key).kind == "field"
    status = edit_tab.sweep(settings, MODEL, *state(forbid_key), ["0.0: zoom in"], 0, 3, 4)[-1]
    assert "sweep saved" in status
    with pytest.raises(InvalidValueError, match="not among"):
        discover_tab.discover(settings, MODEL, "steerability", *values(transformations=["spin"]))
    updates = discover_tab.load_model(settings, MODEL)[2:]
    scale = dict(zip(names, updates, strict=True))["scale"]
    assert scale["choices"] == ["first layer"]
    _, pkey, *_ = discover_tab.discover(settings, MODEL, "principal", *values(num_directions=3))
    assert "small-circle" in directions_store.get(pkey).walks


def test_the_first_page_uses_the_default_model_for_an_empty_picker(settings):
    """An empty model picker (or blanks) means the settings' default model: ``session.generator`` reads it once."""
    for spec in ("", None, "  "):
        key, _, summary, status = discover_tab.first_page(settings, spec, "")
        assert directions_store.get(key).model.name == settings.default_model and "ready" in status, spec
        assert settings.default_model in summary
