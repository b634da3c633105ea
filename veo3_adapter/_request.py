"""The ``generate_videos`` request of one job, in the SDK's own types, for either backend.

Images go inline as ``types.Image(image_bytes=..., mime_type=...)``: the first frame in the
source, the last frame and the "asset" reference images in the config; an extension is
``types.Video(uri=...)`` of the extended job's video. The SDK turns them into the wire of
the backend it talks to (``bytesBase64Encoded`` + ``mimeType``; ``uri`` on the Gemini API,
``gcsUri`` on Vertex AI), so what is sent is exactly what google-genai sends.
"""

from __future__ import annotations

from collections.abc import Callable

from google.genai import types

from ._inputs import read_input
from .models import GenerationOptions, InputFile, JobInputs

__all__ = ["ASSET", "sdk_request"]

ASSET = "asset"
"""The reference type of every reference image: a subject to keep in the video."""


def sdk_request(
    variant: str,
    prompt: str,
    options: GenerationOptions,
    inputs: JobInputs | None,
    *,
    output_gcs_uri: str | None,
    scrub: Callable[[str], str] = str,
) -> tuple[types.GenerateVideosSource, types.GenerateVideosConfig]:
    """The source and config to pass to ``models.generate_videos`` for this job.

    The input files are read here (``InvalidInputsError`` if one is gone or changed); the
    SDK's validation of the options (``ValueError``) surfaces here too.
    """
    inputs = inputs or JobInputs()

    def image(field: str, file: InputFile | None) -> types.Image | None:
        if file is None:
            return None
        data, mime = read_input(variant, field, file, scrub)
        return types.Image(image_bytes=data, mime_type=mime)

    references = [
        types.VideoGenerationReferenceImage(
            image=image(f"reference_images[{i}]", ref),
            reference_type=types.VideoGenerationReferenceType(ASSET),
        )
        for i, ref in enumerate(inputs.reference_images)
    ]
    config = types.GenerateVideosConfig(
        number_of_videos=options.number_of_videos or 1,
        aspect_ratio=options.aspect_ratio,
        resolution=options.resolution,
        duration_seconds=options.duration_seconds,
        negative_prompt=options.negative_prompt,
        person_generation=options.person_generation,
        enhance_prompt=options.enhance_prompt,
        seed=options.seed,
        generate_audio=options.generate_audio,
        compression_quality=(
            types.VideoCompressionQuality(options.compression_quality)
            if options.compression_quality
            else None
        ),
        resize_mode=types.ImageResizeMode(options.resize_mode) if options.resize_mode else None,
        output_gcs_uri=output_gcs_uri,
        last_frame=image("last_frame", inputs.last_frame),
        reference_images=references or None,
    )
    source = types.GenerateVideosSource(
        prompt=prompt,
        image=image("image", inputs.image),
        video=types.Video(uri=inputs.extend_uri) if inputs.extend else None,
    )
    return source, config
