"""Inference latency and throughput for a 5 s clip: `python -m bench.inference [--runs 30]`.

Prints the median latency of `predict()` end to end and split into decode (read, resample, trim),
features (log-mel) and model (windows through the network), then `predict_batch` throughput at batch 32,
for the bundled model and the paper-width model, on CPU and on CUDA when available. With onnxruntime
installed, also the exported ONNX graph (front end + network) against the same graph in torch on CPU,
side by side with the same number of threads, for 1 window and for 32.
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from agegender import AgeGenderClassifier, ModelConfig
from agegender.features import split_windows, window_samples


def synthetic_speech(seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    tone = sum(np.sin(2 * np.pi * 130 * k * t) / k for k in range(1, 8))
    return (0.2 * tone * (0.55 + 0.45 * np.sin(2 * np.pi * 4 * t))).astype(np.float32)


def median_ms(fn, runs: int, sync) -> float:
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def bench(name: str, model: AgeGenderClassifier, clip: Path, runs: int, device: str) -> None:
    model = model.to(device).eval()
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    cfg = model.config
    wave = model.load(clip)
    x = torch.from_numpy(wave).to(device).unsqueeze(0)

    def features():
        return model.features(x)[0]

    spec = features()

    def network():
        with torch.inference_mode():
            windows, _ = split_windows(spec, cfg.window_frames, cfg.window_hop_frames)
            model(windows)

    with torch.inference_mode():
        t_decode = median_ms(lambda: model.load(clip), runs, sync)
        t_features = median_ms(features, runs, sync)
        t_model = median_ms(network, runs, sync)
        t_total = median_ms(lambda: model.predict(clip), runs, sync)
    clips = [clip] * 32
    model.predict_batch(clips)
    start = time.perf_counter()
    batch_runs = max(1, runs // 10)
    for _ in range(batch_runs):
        model.predict_batch(clips, batch_size=32)
    sync()
    throughput = 32 * batch_runs / (time.perf_counter() - start)
    params = sum(p.numel() for p in model.parameters()) / 1e6
    print(
        f"{name:<22} {device:<5} {params:5.2f}M  predict {t_total:7.1f} ms  "
        f"(decode {t_decode:5.1f}, features {t_features:5.1f}, model {t_model:6.1f})  "
        f"batch32 {throughput:6.1f} clips/s"
    )


def bench_onnx(name: str, model: AgeGenderClassifier, tmp: Path, runs: int) -> None:
    """The exported graph in onnxruntime against the same front end + network in torch, on CPU."""
    try:
        import onnxruntime as ort

        from agegender.export import WaveformModel, export_onnx
    except ImportError:
        print("onnxruntime is not installed: no ONNX rows (pip install 'agegender[export]')")
        return
    path = tmp / f"{name.split()[0]}.onnx"
    export_onnx(model.cpu(), path)
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = torch.get_num_threads(), 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    graph = WaveformModel(model.cpu()).eval()
    size = window_samples(model.config)
    row = []
    for n in (1, 32):
        rate = model.config.sample_rate
        x = np.tile(synthetic_speech(size / rate + 0.01, rate)[:size], (n, 1))
        xt = torch.from_numpy(x)
        with torch.inference_mode():
            t_torch = median_ms(lambda: graph(xt), runs, lambda: None)
        t_ort = median_ms(lambda: session.run(None, {"waveform": x}), runs, lambda: None)
        row.append(f"{n:>2} window{'s' if n > 1 else ' '}: torch {t_torch:6.1f} ms  onnxruntime {t_ort:6.1f} ms  ({t_torch / t_ort:4.2f}x)")
    print(f"{name:<22} cpu   ONNX graph  " + "   ".join(row))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads; 5 s clip, 48 kHz wav; median of {args.runs}")
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip.wav"
        sf.write(clip, synthetic_speech(5.0, 48000), 48000)
        models = {
            "bundled": AgeGenderClassifier.from_pretrained(),
            "paper width (1.0)": AgeGenderClassifier(ModelConfig(width=1.0)),
        }
        for device in devices:
            for name, model in models.items():
                bench(name, model, clip, args.runs, device)
        for name, model in models.items():
            bench_onnx(name, model, Path(tmp), args.runs)


if __name__ == "__main__":
    main()
