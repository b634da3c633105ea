"""A bad input entry in the prompts file is one line naming the file, the variant and the key,
and exit 2, before anything is sent: what the file alone shows (an unknown key, a value of
the wrong type) before the output directory is made; what needs the images or jobs.json (a
missing or non-image file, a last frame alone, a fourth reference, an extension that cannot
be made, an option the backend refuses) from ``run``'s own checks, with no request sent.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _kit.cli import POLL, SUBMITS, Result, Veo3, write_prompts
from _kit.images import write_jpeg, write_png

from veo3_adapter.emulator import Emulator
from veo3_adapter.models import GenerationOptions

PREFIX = "veo3: error: prompts file p.toml: variant 'a': "


def _refused(result: Result) -> str:
    """The one error line of a run refused as a usage error, without its common prefix."""
    assert result.code == 2, result
    [line] = result.err_lines
    assert line.startswith(PREFIX), line
    assert "Traceback" not in result.err and result.out == ""
    return line.removeprefix(PREFIX)


# -- what the file alone shows: nothing made, no key needed -----------------------------------

WRONG = {
    "image a number": ("image = 3", "image must be the path of an image file", "got a number"),
    "image empty": ('image = ""', "image must be the path of an image file", "an empty string"),
    "image a table": ('image = { path = "a.png" }', "image must be the path", "got a table"),
    "last_frame a boolean": ("last_frame = true", "last_frame must be the path", "true or false"),
    "references a string": (
        'reference_images = "a.png"',
        "reference_images must be an array of image file paths",
        "got a string",
    ),
    "references hold a number": (
        'reference_images = ["a.png", 2]',
        "reference_images must be an array of image file paths",
        "got an array holding something else than paths",
    ),
    "extend a number": ("extend = 1", "extend must be the name of another variant", "a number"),
    "option of the wrong type": ('seed = "7"', "option 'seed' must be an integer", "got str"),
    "option out of range": (
        "number_of_videos = 5",
        "option 'number_of_videos' must be an integer from 1 to 4",
        "got 5",
    ),
    "option not a choice": (
        'compression_quality = "best"',
        "option 'compression_quality' must be one of 'optimized', 'lossless'",
        "got 'best'",
    ),
}


@pytest.mark.parametrize(("entry", "start", "end"), WRONG.values(), ids=list(WRONG))
def test_a_value_of_the_wrong_type_names_the_variant_and_the_key(
    veo3: Veo3, tmp_path: Path, entry: str, start: str, end: str
) -> None:
    write_png(tmp_path / "a.png")
    write_prompts(tmp_path / "p.toml", f'[a]\nprompt = "a cat"\n{entry}\n')

    line = _refused(veo3("run", "p.toml", "--out", "out", keyed=False))

    assert line.startswith(start) and line.endswith(end), line
    assert not (tmp_path / "out").exists()


def test_an_unknown_key_names_the_closest_and_every_key_a_table_takes(
    veo3: Veo3, tmp_path: Path
) -> None:
    write_prompts(tmp_path / "p.toml", '[a]\nprompt = "a cat"\nimages = "a.png"\n')

    line = _refused(veo3("run", "p.toml", "--out", "out", keyed=False))

    options = ", ".join(GenerationOptions.schema())
    assert line == (
        "unknown key 'images' (did you mean 'image'? a variant's table takes prompt, image, "
        f"last_frame, reference_images, extend and the options {options})"
    )
    assert "number_of_videos" in options and "resize_mode" in options
    assert not (tmp_path / "out").exists()


def test_a_json_null_means_not_set(veo3: Veo3, tmp_path: Path) -> None:
    write_prompts(tmp_path / "p.json", '{"a": {"prompt": "a cat", "image": null, "seed": 1.5}}')

    result = veo3("run", "p.json", "--out", "out", keyed=False)

    assert result.code == 2, result  # past the null, the next key is refused
    assert result.err_lines == [
        "veo3: error: prompts file p.json: variant 'a': option 'seed' must be an integer, got float"
    ]


def test_an_unpaired_surrogate_in_a_reference_path_is_one_line(veo3: Veo3, tmp_path: Path) -> None:
    entry = '{"prompt": "a cat", "reference_images": ["a\\ud800.png"]}'
    write_prompts(tmp_path / "p.json", f'{{"a": {entry}}}')

    result = veo3("run", "p.json", "--out", "out", keyed=False)

    assert result.code == 2, result
    [line] = result.err_lines
    assert line == (
        "veo3: error: prompts file p.json: variant 'a' holds an unpaired surrogate (\\ud800), "
        "which is not text; fix the escape in the file"
    )


# -- what needs the images or jobs.json: run's checks, nothing sent ---------------------------


def _run(veo3: Veo3, base_url: str, *backend: str) -> Result:
    return veo3(
        "run", "p.toml", "--out", "out", *(backend or SUBMITS.args), "--base-url", base_url, *POLL
    )


@pytest.fixture
def images(tmp_path: Path) -> Path:
    """Four images in ``tmp_path/frames``, a text file ``notes.png`` and a directory
    ``folder.png`` beside them."""
    frames = tmp_path / "frames"
    for n in range(1, 4):
        write_png(frames / f"{n}.png", (n, n, n))
    write_jpeg(frames / "4.jpg")
    (frames / "notes.png").write_text("not an image")
    (frames / "folder.png").mkdir()
    return frames


REFUSED = {
    "missing file": ('image = "frames/missing.png"', "image: {frames}/missing.png does not exist"),
    "not an image": (
        'image = "frames/notes.png"',
        "image: {frames}/notes.png is not a PNG, JPEG or WebP image (judged by its bytes)",
    ),
    "a directory": (
        'image = "frames/folder.png"',
        "image: {frames}/folder.png is not a regular file",
    ),
    "a missing reference": (
        'reference_images = ["frames/1.png", "frames/none.png"]',
        "reference_images[1]: {frames}/none.png does not exist",
    ),
    "last frame alone": (
        'last_frame = "frames/1.png"',
        "last_frame: a last frame needs a first one (image)",
    ),
    "four references": (
        'reference_images = ["frames/1.png", "frames/2.png", "frames/3.png", "frames/4.jpg"]',
        "reference_images: 4 given; the API takes at most 3",
    ),
    "references beside a frame": (
        'image = "frames/1.png"\nreference_images = ["frames/2.png"]',
        "reference_images: cannot be combined with image, last_frame or extend",
    ),
    "an image and an extension": (
        'image = "frames/1.png"\nextend = "b"',
        "extend: cannot be combined with an image",
    ),
    "extend itself": (
        'extend = "a"',
        "extend: a variant cannot extend itself; give the extension its own name",
    ),
    "extend a bad name": ('extend = "../x"', "extend: variant name '../x' is not allowed"),
    "extend a variant never run": ('extend = "zz"', "extend: variant 'zz' is not in jobs.json"),
    "extend a variant of this run": (
        'extend = "b"',
        "extend: variant 'b' is submitted anew in this run, so its video is not there yet; "
        "run it first",
    ),
}


@pytest.mark.parametrize(("entry", "reason"), REFUSED.values(), ids=list(REFUSED))
def test_an_input_run_refuses_is_one_line_and_nothing_is_sent(
    veo3: Veo3,
    emulator: Emulator,
    base_url: str,
    images: Path,
    tmp_path: Path,
    entry: str,
    reason: str,
) -> None:
    write_prompts(tmp_path / "p.toml", f'b = "a dog"\n\n[a]\nprompt = "a cat"\n{entry}\n')

    line = _refused(_run(veo3, base_url))

    expected = reason.format(frames=images.resolve())
    assert line == expected or line.startswith(expected), line
    assert emulator.operations == {}
    assert not list(tmp_path.glob("out/veo3/*.mp4"))


def test_an_input_that_cannot_be_sent_leaves_an_earlier_run_as_it_was(
    veo3: Veo3, emulator: Emulator, base_url: str, images: Path, tmp_path: Path
) -> None:
    write_prompts(tmp_path / "p.toml", 'b = "a dog"\n')
    assert _run(veo3, base_url).code == 0
    jobs = tmp_path / "out" / "veo3" / "jobs.json"
    before = jobs.read_bytes()
    write_prompts(
        tmp_path / "p.toml",
        'b = "a dog"\n\n[a]\nprompt = "a cat"\nimage = "frames/notes.png"\n',
    )

    line = _refused(_run(veo3, base_url))

    assert line.startswith("image: ") and "is not a PNG, JPEG or WebP image" in line
    assert len(emulator.operations) == 1
    assert jobs.read_bytes() == before


@pytest.mark.parametrize(
    "option", ["seed = 7", "generate_audio = true", 'resize_mode = "crop"'], ids=str
)
def test_a_vertex_only_option_on_the_gemini_api_is_one_line(
    veo3: Veo3, emulator: Emulator, base_url: str, images: Path, tmp_path: Path, option: str
) -> None:
    write_prompts(tmp_path / "p.toml", f'[a]\nprompt = "a cat"\nimage = "frames/1.png"\n{option}\n')

    line = _refused(_run(veo3, base_url, "--backend", "gemini"))

    name = option.split(" = ")[0]
    assert line == (
        f"options.{name}: --backend gemini does not take it (only --backend vertex does); "
        "nothing was sent"
    )
    assert emulator.operations == {}
