"""``veo3 status``: an INPUTS column, shown only when a job has inputs, names each job's
frames by file name, counts its reference images and names the variant it extends."""

from __future__ import annotations

from pathlib import Path

from _kit.cli import TABLE_HEADER, Veo3, parse_table

from veo3_adapter.cli._commands import status_table
from veo3_adapter.models import InputFile, JobInputs, JobStatus, Veo3Job
from veo3_adapter.store import write_jobs_json

SHA = "0" * 64


def _file(path: str) -> InputFile:
    return InputFile(path, SHA)


def test_status_names_each_jobs_inputs(veo3: Veo3, out: Path) -> None:
    frames = "/work/story/frames"
    jobs = [
        Veo3Job("plain", "a cat", status=JobStatus.DOWNLOADED, clip_bytes=2048),
        Veo3Job("still", "a cat", inputs=JobInputs(image=_file(f"{frames}/a.png"))),
        Veo3Job(
            "between",
            "a cat walks",
            inputs=JobInputs(image=_file(f"{frames}/a.png"), last_frame=_file(f"{frames}/b.jpg")),
        ),
        Veo3Job("hero", "a hero", inputs=JobInputs(reference_images=(_file("/h/1.png"),) * 3)),
        Veo3Job("one", "a hero", inputs=JobInputs(reference_images=(_file("/h/1.png"),))),
        Veo3Job("more", "on", inputs=JobInputs(extend="still", extend_uri="gs://b/still.mp4")),
    ]
    (out / "veo3").mkdir(parents=True)
    write_jobs_json(out / "veo3" / "jobs.json", jobs)

    result = veo3("status", "out", keyed=False)

    assert result.code == 0, result
    assert result.out.splitlines()[0].split() == [*TABLE_HEADER, "INPUTS"]
    assert {r["VARIANT"]: r["INPUTS"] for r in parse_table(result.out)} == {
        "plain": "-",
        "still": "image a.png",
        "between": "image a.png, last_frame b.jpg",
        "hero": "3 reference images",
        "one": "1 reference image",
        "more": "extends still",
    }
    assert frames not in result.out  # file names only: the table stays narrow


def test_a_table_without_inputs_has_no_inputs_column() -> None:
    table = status_table([Veo3Job("a", "a cat"), Veo3Job("b", "a dog")])

    assert table.splitlines()[0].split() == TABLE_HEADER


def test_an_input_file_name_is_shown_on_one_line_with_escapes() -> None:
    odd = "/frames/a\x1b[2J  b\n.png"
    table = status_table([Veo3Job("a", "a cat", inputs=JobInputs(image=_file(odd)))])

    [row] = parse_table(table)
    assert row["INPUTS"] == "image a\\x1b[2J b .png"
    assert "\x1b" not in table and len(table.splitlines()) == 2
