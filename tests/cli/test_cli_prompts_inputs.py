"""Inputs from the prompts file, end to end: ``veo3 run`` on the emulator over loopback, on the
backend that submits with the installed google-genai (``SUBMITS``). Image paths are relative
to the prompts file's directory; the emulator makes each clip from the inputs it was sent, so
a clip made from an image differs from a text-only one.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from _kit.cli import POLL, SUBMITS, VERTEX_BUCKET, Result, Veo3, parse_table, write_prompts
from _kit.images import write_jpeg, write_png

from veo3_adapter.emulator import Emulator
from veo3_adapter.models import DEFAULT_MODEL, Veo3Job
from veo3_adapter.mp4 import is_mp4_file, sample_clip
from veo3_adapter.store import read_jobs_json


def _run(veo3: Veo3, prompts: Path, base_url: str, *backend: str) -> Result:
    args = ("--out", "out", *(backend or SUBMITS.args), "--base-url", base_url, *POLL)
    return veo3("run", str(prompts), *args)


def _jobs(out: Path) -> dict[str, Veo3Job]:
    return {job.variant: job for job in read_jobs_json(out / "veo3" / "jobs.json")}


def _clip(out: Path, variant: str) -> bytes:
    path = out / "veo3" / f"{variant}.mp4"
    assert is_mp4_file(path), path
    return path.read_bytes()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_image_to_video_with_paths_relative_to_the_prompts_file(
    veo3: Veo3, emulator: Emulator, base_url: str, tmp_path: Path, out: Path
) -> None:
    story = tmp_path / "story"
    frame = write_png(story / "frames" / "a.png")
    prompts = write_prompts(
        story / "prompts.toml",
        'plain = "a cat"\n\n[still]\nprompt = "a cat"\nimage = "frames/a.png"\n',
    )

    result = _run(veo3, prompts, base_url)  # from tmp_path: frames/a.png is not there

    assert result.code == 0, result
    rows = {r["VARIANT"]: r for r in parse_table(result.out)}
    assert {v: r["STATUS"] for v, r in rows.items()} == {
        "plain": "downloaded",
        "still": "downloaded",
    }
    assert {v: r["INPUTS"] for v, r in rows.items()} == {"plain": "-", "still": "image a.png"}
    assert _clip(out, "plain") == sample_clip()
    assert _clip(out, "still") != sample_clip()
    jobs = _jobs(out)
    image = jobs["still"].inputs.image
    assert image is not None and not jobs["plain"].inputs
    assert Path(image.path).resolve() == frame.resolve()
    assert image.sha256 == _digest(frame)
    operations = emulator.operations
    assert operations[jobs["plain"].operation_name].inputs == ""
    assert operations[jobs["still"].operation_name].inputs != ""
    assert emulator.key_leaks == []


def test_first_and_last_frame_and_an_absolute_path(
    veo3: Veo3, emulator: Emulator, base_url: str, tmp_path: Path, out: Path
) -> None:
    write_png(tmp_path / "first.png")
    last = write_jpeg(tmp_path / "elsewhere" / "last.jpg")
    prompts = write_prompts(
        tmp_path / "p.toml",
        '[opening]\nprompt = "the hero wakes"\nimage = "first.png"\n\n'
        f'[between]\nprompt = "the hero wakes"\nimage = "first.png"\nlast_frame = "{last}"\n',
    )

    result = _run(veo3, prompts, base_url)

    assert result.code == 0, result
    rows = {r["VARIANT"]: r["INPUTS"] for r in parse_table(result.out)}
    assert rows == {"opening": "image first.png", "between": "image first.png, last_frame last.jpg"}
    jobs = _jobs(out)
    assert jobs["between"].inputs.image == jobs["opening"].inputs.image
    recorded = jobs["between"].inputs.last_frame
    assert recorded is not None and recorded.path == str(last)
    # The last frame was sent: the same first frame alone gives another request and clip.
    operations = emulator.operations
    inputs = {v: operations[job.operation_name].inputs for v, job in jobs.items()}
    assert "" != inputs["opening"] != inputs["between"] != ""
    assert _clip(out, "opening") != _clip(out, "between")


def test_three_reference_images_from_a_json_prompts_file(
    veo3: Veo3, emulator: Emulator, base_url: str, tmp_path: Path, out: Path
) -> None:
    refs = [
        write_png(tmp_path / "hero" / "front.png", (10, 20, 30)),
        write_jpeg(tmp_path / "hero" / "side.jpg", "side"),
        write_png(tmp_path / "hero" / "back.png", (30, 20, 10)),
    ]
    entry = {"prompt": "the hero walks", "reference_images": [f"hero/{p.name}" for p in refs]}
    prompts = write_prompts(tmp_path / "p.json", json.dumps({"walk": entry, "plain": "a cat"}))

    result = _run(veo3, prompts, base_url)

    assert result.code == 0, result
    rows = {r["VARIANT"]: r["INPUTS"] for r in parse_table(result.out)}
    assert rows == {"walk": "3 reference images", "plain": "-"}
    job = _jobs(out)["walk"]
    assert [Path(r.path).name for r in job.inputs.reference_images] == [p.name for p in refs]
    assert [r.sha256 for r in job.inputs.reference_images] == [_digest(p) for p in refs]
    assert emulator.operations[job.operation_name].inputs != ""
    assert _clip(out, "walk") != _clip(out, "plain")


def test_extend_a_variant_of_an_earlier_run(
    veo3: Veo3, emulator: Emulator, base_url: str, tmp_path: Path, out: Path
) -> None:
    prompts = write_prompts(tmp_path / "p.toml", 'intro = "the hero walks"\n')
    assert _run(veo3, prompts, base_url).code == 0
    write_prompts(
        prompts,
        'intro = "the hero walks"\n\n[more]\nprompt = "she walks on"\nextend = "intro"\n',
    )

    result = _run(veo3, prompts, base_url)

    assert result.code == 0, result
    rows = {r["VARIANT"]: (r["STATUS"], r["INPUTS"]) for r in parse_table(result.out)}
    assert rows == {"intro": ("downloaded", "-"), "more": ("downloaded", "extends intro")}
    assert "1 kept from the last run (intro), 1 submitted" in result.err
    jobs = _jobs(out)
    assert jobs["more"].inputs.extend == "intro"
    assert jobs["more"].inputs.extend_uri == jobs["intro"].video_uri != ""
    assert len(emulator.operations) == 2
    assert _clip(out, "more") not in (_clip(out, "intro"), sample_clip())


def test_a_changed_image_generates_its_variant_again(
    veo3: Veo3, emulator: Emulator, base_url: str, tmp_path: Path, out: Path
) -> None:
    frame = write_png(tmp_path / "a.png", (1, 2, 3))
    prompts = write_prompts(tmp_path / "p.toml", '[a]\nprompt = "a cat"\nimage = "a.png"\n')
    assert _run(veo3, prompts, base_url).code == 0
    first = _clip(out, "a")

    kept = _run(veo3, prompts, base_url)
    write_png(frame, (3, 2, 1))
    again = _run(veo3, prompts, base_url)

    assert kept.code == 0 and "1 kept from the last run (a), 0 submitted" in kept.err, kept
    assert again.code == 0, again
    assert len(emulator.operations) == 2
    assert _clip(out, "a") != first
    image = _jobs(out)["a"].inputs.image
    assert image is not None and image.sha256 == _digest(frame)


def test_vertex_options_from_the_prompts_file_are_sent(
    veo3: Veo3, emulator: Emulator, base_url: str, tmp_path: Path, out: Path
) -> None:
    write_png(tmp_path / "a.png")
    prompts = write_prompts(
        tmp_path / "p.toml",
        '[a]\nprompt = "a cat"\nimage = "a.png"\nseed = 7\ngenerate_audio = false\n'
        'compression_quality = "LOSSLESS"\nresize_mode = "pad"\n',
    )

    result = _run(veo3, prompts, base_url, *VERTEX_BUCKET.args)

    assert result.code == 0, result
    job = _jobs(out)["a"]
    assert job.options.to_dict() == {
        "model": DEFAULT_MODEL,
        "seed": 7,
        "generate_audio": False,
        "compression_quality": "lossless",
        "resize_mode": "pad",
    }
    assert emulator.operations[job.operation_name].parameters == {
        **VERTEX_BUCKET.parameters,
        "seed": 7,
        "generateAudio": False,
        "compressionQuality": "LOSSLESS",
        "resizeMode": "PAD",
    }


def test_number_of_videos_from_the_prompts_file(
    veo3: Veo3, emulator: Emulator, base_url: str, tmp_path: Path, out: Path
) -> None:
    write_png(tmp_path / "a.png")
    prompts = write_prompts(
        tmp_path / "p.toml", '[a]\nprompt = "a cat"\nimage = "a.png"\nnumber_of_videos = 2\n'
    )

    result = _run(veo3, prompts, base_url)

    assert result.code == 0, result
    [row] = parse_table(result.out)
    assert (row["STATUS"], row["SAMPLES"], row["INPUTS"]) == ("downloaded", "2/2", "image a.png")
    job = _jobs(out)["a"]
    assert emulator.operations[job.operation_name].parameters["sampleCount"] == 2
    assert len(job.clip_paths) == 2
    assert _clip(out, "a") != (out / "veo3" / "a~2.mp4").read_bytes()
    assert is_mp4_file(out / "veo3" / "a~2.mp4")
