"""Click-to-result time of the demo for a 5 s clip on CPU: `python bench/app.py [--runs 10] [--http]`.

Splits the server-side work of one click into prediction (decode + log-mel + network, one forward
pass) and plotting (building the three figures, then drawing them to PNG as the page does).
With --http it also launches the app on a free localhost port and times the whole `/classify` call
through gradio_client (upload, queue, prediction, plotting, transfer of the figures).
Prints the median and, in brackets, the fastest run in milliseconds: on a shared machine the median
includes waiting for the CPU, the fastest run is closer to the cost of the work itself.
"""

import argparse
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from agegender import plots  # noqa: E402
from agegender.demo import Demo  # noqa: E402


def five_second_clip(folder: Path) -> Path:
    """The French example clip, repeated and cut to exactly 5 s of sound."""
    samples, rate = sf.read(ROOT / "examples" / "fr_female.wav", dtype="float32")
    path = folder / "five_seconds.wav"
    sf.write(path, np.tile(samples, 3)[: 5 * rate], rate)
    return path


def median_ms(values: list[float]) -> str:
    return f"{1000 * statistics.median(values):7.1f} ({1000 * min(values):6.1f})"


def bench_functions(demo: Demo, clip: Path, runs: int) -> dict[str, str]:
    rows: dict[str, list[float]] = {"predict": [], "build": [], "encode": [], "plot": [], "total": []}
    for i in range(runs + 2):  # two warm-up runs
        start = time.perf_counter()
        analysis = demo.analyse(str(clip))
        encode_start = time.perf_counter()
        for fig in (analysis.spectrogram, analysis.overlay, analysis.timeline):
            if fig is not None:
                plots.render_png(fig)
        end = time.perf_counter()
        if i >= 2:
            rows["predict"].append(analysis.timings["load"] + analysis.timings["predict"])
            rows["build"].append(analysis.timings["plot"])
            rows["encode"].append(end - encode_start)
            rows["plot"].append(analysis.timings["plot"] + end - encode_start)
            rows["total"].append(end - start)
    return {k: median_ms(v) for k, v in rows.items()}


def bench_http(demo: Demo, clip: Path, runs: int) -> str:
    import app
    from gradio_client import Client, handle_file

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    page = app.build(demo)
    page.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                max_file_size=app.MAX_FILE_SIZE)  # fmt: skip
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        times = []
        for i in range(runs + 2):
            start = time.perf_counter()
            client.predict(handle_file(str(clip)), api_name="/classify")
            if i >= 2:
                times.append(time.perf_counter() - start)
        return median_ms(times)
    finally:
        page.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--model", default=None, help="Hub id or directory (default: the bundled model)")
    parser.add_argument("--http", action="store_true", help="also time /classify through gradio_client")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (app.py's default is 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    demo = Demo.load(args.model)
    cfg = demo.clf.config
    print(f"model: {demo.facts.source} ({cfg.variant}, width {cfg.width}); torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, CPU")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        clip = five_second_clip(Path(tmp))
        result = bench_functions(demo, clip, args.runs)
        print(f"5 s clip, {args.runs} runs, ms: median (fastest)")
        print(f"  prediction (decode + log-mel + network)   {result['predict']}")
        print(f"  plotting (3 figures)                      {result['plot']}")
        print(f"    building the figures                    {result['build']}")
        print(f"    drawing them to PNG                     {result['encode']}")
        print(f"  server-side total                         {result['total']}")
        if args.http:
            print(f"  click-to-result via HTTP (/classify)      {bench_http(demo, clip, args.runs)}")


if __name__ == "__main__":
    main()
