"""The extractor: decoded clip -> visual ``[10,7,7,512]`` + audio ``[10,128]`` float16 features.

:class:`Extractor` is built once from :class:`ExtractorOptions` (weights resolved, hashed and
loaded strictly; random weights only when allowed, with a loud warning) and then

- :meth:`Extractor.extract_clip` turns one decoded clip into features;
- :meth:`Extractor.iter_extract` / :meth:`Extractor.extract_many` run a pipeline over many
  clips: decode worker processes (or, with ``decode_workers=0``, one thread of this process)
  fill a bounded look-ahead while the model computes, results come back in input order, and a
  clip whose decode or compute fails comes back with its exception instead of stopping the batch.

The decode function is passed in by the caller (``avel_annotate.media.decode.decode_clip``), so
this package never imports the decoder.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

import avel_annotate
from avel_annotate.errors import ConfigError, FeatureError, WeightsNotFoundError
from avel_annotate.features import weights as W
from avel_annotate.features.decode_pool import DecodeFn, iter_decoded
from avel_annotate.features.provenance import RANDOM, Provenance
from avel_annotate.features.vgg import PREPROCESSINGS, build_visual, preprocess
from avel_annotate.features.vggish import SAMPLE_RATE, LogMelFrontEnd, PCAQuantize, VGGish
from avel_annotate.fileio import sha256_file

logger = logging.getLogger(__name__)

N_SEGMENTS = 10
FRAME_SIZE = 224
VISUALS = ("vgg19", "resnet18")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


@dataclass(frozen=True)
class ExtractorOptions:
    """What the ``avel features extract`` options map onto."""

    device: str = "cpu"  # "cpu" | "cuda" | "cuda:N"
    dtype: str = "float32"  # visual compute dtype: "float32" | "bfloat16" (autocast)
    visual: str = "vgg19"  # "vgg19" | "resnet18"
    frames_per_second: int = 16
    preprocessing: str = "torchvision"  # "torchvision" | "caffe" (Caffe-converted VGG weights)
    visual_weights: Path | None = None  # --vgg19-weights / --resnet18-weights
    vggish_weights: Path | None = None
    pca_params: Path | None = None  # AudioSet PCA + 8-bit quantisation of the embeddings
    allow_random_weights: bool = False
    batch_frames: int = 32  # frames per visual forward pass
    decode_workers: int = 0  # 0: a thread of this process; N: N decode worker processes
    prefetch_clips: int = 2  # decoded clips waiting ahead of the model (bounded queue)
    decoder: str = "unknown"  # the caller's decoder description, for provenance

    def validate(self) -> None:
        if self.visual not in VISUALS:
            raise ConfigError(f"unknown visual extractor {self.visual!r}; choose {VISUALS}")
        if self.dtype not in DTYPES:
            raise ConfigError(f"unknown dtype {self.dtype!r}; choose {tuple(DTYPES)}")
        if self.preprocessing not in PREPROCESSINGS:
            raise ConfigError(
                f"unknown preprocessing {self.preprocessing!r}; choose {PREPROCESSINGS}"
            )
        if self.visual == "resnet18" and self.preprocessing != "torchvision":
            raise ConfigError("resnet18 weights expect torchvision preprocessing")
        if self.frames_per_second < 1 or self.batch_frames < 1 or self.prefetch_clips < 1:
            raise ConfigError("frames_per_second, batch_frames and prefetch_clips must be >= 1")
        if self.decode_workers < 0:
            raise ConfigError("decode_workers must be >= 0 (0 decodes in this process)")
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError(f"device {self.device!r} asked for but CUDA is not available")

    @property
    def extractor_name(self) -> str:
        """Feature folder name: one per feature space (model + weights kind + post-processing)."""
        visual = self.visual + ("-caffe" if self.preprocessing == "caffe" else "")
        audio = "vggish" + ("-pca" if self.pca_params is not None else "")
        return f"{visual}_{audio}"


@dataclass
class ClipResult:
    """One clip's outcome: features, or the exception that stopped it (``error``)."""

    clip_id: str
    visual: np.ndarray | None = None  # float16 [10, 7, 7, 512]
    audio: np.ndarray | None = None  # float16 [10, 128]
    error: BaseException | None = None
    decode_s: float = 0.0
    decode_cpu_s: float = 0.0  # CPU time the decoding process spent on this clip
    compute_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class ExtractSummary:
    n_ok: int = 0
    n_failed: int = 0
    wall_s: float = 0.0
    compute_s: float = 0.0
    failed: list[str] = field(default_factory=list)


class Extractor:
    """Built by :meth:`from_options`; holds the loaded networks and the provenance record."""

    def __init__(
        self,
        options: ExtractorOptions,
        visual_net: torch.nn.Module,
        vggish_net: torch.nn.Module,
        pca: PCAQuantize | None,
        provenance: Provenance,
    ) -> None:
        self.options = options
        self.device = torch.device(options.device)
        self.visual_net = visual_net.eval().to(self.device)
        self.visual_net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.vggish_net = vggish_net.eval().to(self.device)
        self.front_end = LogMelFrontEnd().to(self.device)
        self.pca = pca.to(self.device) if pca is not None else None
        self.provenance = provenance

    @property
    def name(self) -> str:
        return self.options.extractor_name

    @classmethod
    def from_options(cls, options: ExtractorOptions) -> Extractor:
        options.validate()
        random_parts: list[str] = []
        visual_net = build_visual(options.visual)
        try:
            path = W.resolve_weights(options.visual, options.visual_weights)
            W.load_visual(visual_net, options.visual, path)
            visual_weights = f"sha256:{sha256_file(path)}"
        except WeightsNotFoundError:
            if not options.allow_random_weights:
                raise
            W.seeded_random(visual_net, seed=0)
            visual_weights = RANDOM
            random_parts.append(options.visual)

        vggish_net = VGGish()
        layout = ""
        try:
            path = W.resolve_weights("vggish", options.vggish_weights)
            layout = W.load_vggish(vggish_net, path)
            audio_weights = f"sha256:{sha256_file(path)}"
        except WeightsNotFoundError:
            if not options.allow_random_weights:
                raise
            W.seeded_random(vggish_net, seed=1)
            audio_weights = RANDOM
            random_parts.append("vggish")

        pca = None
        postprocess = "none"
        if options.pca_params is not None:
            pca = W.load_pca(options.pca_params)
            postprocess = f"pca-quantize:sha256:{sha256_file(options.pca_params)}"

        if random_parts:
            logger.warning(
                "RANDOM WEIGHTS for %s: these features are meaningless and are marked random=true "
                "in their provenance; never train or predict on them",
                " and ".join(random_parts),
            )
        provenance = Provenance(
            extractor=options.extractor_name,
            visual_model=options.visual,
            visual_weights=visual_weights,
            audio_model="vggish",
            audio_weights=audio_weights,
            random=bool(random_parts),
            preprocessing=options.preprocessing,
            decoder=options.decoder,
            dtype=options.dtype,
            frames_per_second=options.frames_per_second,
            audio_postprocess=postprocess,
            vggish_layout=layout,
            device=torch.device(options.device).type,
            torch_version=torch.__version__,
            package_version=avel_annotate.__version__,
        )
        return cls(options, visual_net, vggish_net, pca, provenance)

    # --- one clip ------------------------------------------------------------------------

    def _autocast(self) -> contextlib.AbstractContextManager[object]:
        if self.options.dtype == "float32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=DTYPES[self.options.dtype])

    def visual_maps(self, frames: np.ndarray) -> torch.Tensor:
        """uint8 ``[N, 224, 224, 3]`` -> float32 ``[N, 512, 7, 7]`` trunk outputs."""
        outputs = []
        with torch.inference_mode():
            for start in range(0, frames.shape[0], self.options.batch_frames):
                chunk = torch.from_numpy(frames[start : start + self.options.batch_frames])
                x = preprocess(chunk.to(self.device), self.options.preprocessing)
                x = x.contiguous(memory_format=torch.channels_last)
                with self._autocast():
                    y = self.visual_net(x)
                outputs.append(y.float())
        return torch.cat(outputs)

    def audio_embeddings(self, wav: np.ndarray) -> torch.Tensor:
        """float32 ``[n_samples]`` 16 kHz -> float32 ``[10, 128]`` (PCA-quantised if asked)."""
        with torch.inference_mode():
            samples = torch.from_numpy(np.asarray(wav, dtype=np.float32)).to(self.device)
            emb = self.vggish_net(self.front_end(samples))
            if self.pca is not None:
                emb = self.pca(emb)
        return emb.float()

    def extract_clip(self, frames: np.ndarray, wav: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Decoded clip -> ``(visual float16 [10,7,7,512], audio float16 [10,128])``.

        ``frames``: uint8 ``[10*fps, 224, 224, 3]`` RGB in the reference order; ``wav``: float32
        16 kHz mono (zero-padded / cut to 10 s). The per-second mean of the ``fps`` pool5 maps is
        taken in float32 before the cast to float16.
        """
        fps = self.options.frames_per_second
        want = (N_SEGMENTS * fps, FRAME_SIZE, FRAME_SIZE, 3)
        if frames.dtype != np.uint8 or frames.shape != want:
            raise FeatureError(f"frames are {frames.dtype} {frames.shape}, expected uint8 {want}")
        if wav.ndim != 1:
            raise FeatureError(f"wav must be mono [n_samples], got shape {wav.shape}")
        if wav.shape[0] != N_SEGMENTS * SAMPLE_RATE:
            logger.debug("wav has %d samples; padding/cutting to 10 s", wav.shape[0])
        maps = self.visual_maps(frames)  # [160, 512, 7, 7]
        per_second = maps.reshape(N_SEGMENTS, fps, *maps.shape[1:]).mean(dim=1)
        with np.errstate(over="ignore"):  # overflow becomes inf, refused just below
            visual = per_second.permute(0, 2, 3, 1).cpu().numpy().astype(np.float16)
            audio = self.audio_embeddings(wav).cpu().numpy().astype(np.float16)
        if not (np.isfinite(visual).all() and np.isfinite(audio).all()):
            raise FeatureError("features overflow float16 (inf/nan); check weights/preprocessing")
        return visual, audio

    # --- many clips ----------------------------------------------------------------------

    def iter_extract(
        self, items: Iterable[tuple[str, str | Path, str | Path]], decode_fn: DecodeFn
    ) -> Generator[ClipResult, None, None]:
        """Yield a :class:`ClipResult` per ``(clip_id, mp4_path, wav_path)``, in input order.

        Clips are decoded ahead (``prefetch_clips``, at least one per worker) while the model
        runs on the current one: on a thread of this process when ``decode_workers == 0``, else
        in that many worker processes (``decode_fn`` must then be picklable), see
        :mod:`avel_annotate.features.decode_pool`. A failing clip yields its exception in
        ``error``.
        """
        decoded = iter_decoded(
            items,
            decode_fn,
            workers=self.options.decode_workers,
            lookahead=self.options.prefetch_clips,
        )
        try:
            for d in decoded:
                result = ClipResult(
                    d.clip_id, error=d.error, decode_s=d.wall_s, decode_cpu_s=d.cpu_s
                )
                if d.error is None and d.frames is not None and d.wav is not None:
                    t0 = time.perf_counter()
                    try:
                        result.visual, result.audio = self.extract_clip(d.frames, d.wav)
                    except Exception as e:
                        result.error = e
                    result.compute_s = time.perf_counter() - t0
                del d
                if result.error is not None:
                    logger.warning("clip %s failed: %s", result.clip_id, result.error)
                yield result
        finally:
            decoded.close()

    def extract_many(
        self,
        items: Iterable[tuple[str, str | Path, str | Path]],
        decode_fn: DecodeFn,
        on_done: Callable[[ClipResult], None],
    ) -> ExtractSummary:
        """Run :meth:`iter_extract`, calling ``on_done(result)`` for every clip (ok or failed)."""
        summary = ExtractSummary()
        t0 = time.perf_counter()
        for result in self.iter_extract(items, decode_fn):
            summary.compute_s += result.compute_s
            if result.ok:
                summary.n_ok += 1
            else:
                summary.n_failed += 1
                summary.failed.append(result.clip_id)
            on_done(result)
        summary.wall_s = time.perf_counter() - t0
        return summary
