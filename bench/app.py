"""Speed and steadiness of the demo for a 5 s clip on CPU.

    python -m bench.app [--runs 30]          # server-side: audio -> everything the page shows
    python -m bench.app --http               # + cold start, first click, /classify beside /predict over HTTP
    python -m bench.app --load               # + 32 concurrent clients per endpoint, 1,000 requests:
                                             #   latency, refusals, server memory, gradio temp folder

Server-side: decode, log-mel, the network's forward pass with Grad-CAM, and the four HTML figures.
Over HTTP, `python app.py` runs as its own process on a free port (its own GRADIO_TEMP_DIR), and
gradio_client calls it the way an API user or the page does: upload, queue, analysis, download.
Prints medians with the fastest run in brackets (ms); /classify and /predict alternate, so their ratio
is measured under the same load.
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
ROOT = Path(__file__).resolve().parents[1]


def five_second_clip(folder: Path) -> Path:
    """The French example clip, repeated and cut to exactly 5 s, at 48 kHz like a browser recording."""
    import torch
    import torchaudio.functional as AF

    samples, rate = sf.read(ROOT / "examples" / "fr_female.wav", dtype="float32")
    samples = AF.resample(torch.from_numpy(np.tile(samples, 3)[: 5 * rate]), rate, 48000).numpy()
    path = folder / "five_seconds.wav"
    sf.write(path, samples, 48000)
    return path


def ms(values: list[float]) -> str:
    return f"{1000 * statistics.median(values):7.1f} ({1000 * min(values):6.1f})"


def percentile_ms(values: list[float], q: float) -> float:
    return 1000 * float(np.percentile(values, q))


def bench_functions(clip: Path, runs: int) -> None:
    import torch

    from demo.analysis import Demo

    torch.set_num_threads(1)
    demo = Demo.load()
    cfg = demo.clf.config
    print(f"model: {demo.facts.source} ({cfg.variant}, width {cfg.width}); torch {torch.__version__}, 1 thread, CPU")
    rows: dict[str, list[float]] = {"load": [], "predict": [], "draw": [], "total": [], "plain": []}
    wave = demo.clf.load(str(clip))
    for i in range(runs + 2):  # two warm-up runs
        start = time.perf_counter()
        a = demo.analyse(str(clip))
        total = time.perf_counter() - start
        start = time.perf_counter()
        demo.clf.classify_waveforms([wave])
        plain = time.perf_counter() - start
        if i >= 2:
            for key in ("load", "predict", "draw"):
                rows[key].append(a.timings[key])
            rows["total"].append(total)
            rows["plain"].append(plain)
    print(f"5 s clip, {runs} runs, ms: median (fastest)")
    print(f"  decode and check                               {ms(rows['load'])}")
    print(f"  forward pass + Grad-CAM                        {ms(rows['predict'])}")
    print(f"    (forward pass alone, for comparison          {ms(rows['plain'])})")
    print(f"  drawing the four figures (HTML, PNG)           {ms(rows['draw'])}")
    print(f"  server-side total: audio -> all the page shows {ms(rows['total'])}")


# -- the app as its own process ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(temp: Path, log: Path) -> tuple[subprocess.Popen, str, float]:
    """`python app.py` with its own temp folder; returns the process, its URL and the seconds until it answered
    and had warmed up (its own first request through the server)."""
    port = free_port()
    env = {**os.environ, "GRADIO_TEMP_DIR": str(temp), "PYTHONUNBUFFERED": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port)], cwd=temp.parent, env=env,
                            stdout=open(log, "w"), stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    while True:
        if proc.poll() is not None:
            sys.exit(f"app.py exited:\n{log.read_text()[-2000:]}")
        if "serving, warmed up" in log.read_text():
            with urllib.request.urlopen(url, timeout=5):
                return proc, url, time.perf_counter() - start
        time.sleep(0.2)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def folder_mb(*folders: Path) -> float:
    return sum(p.stat().st_size for f in folders if f.exists() for p in f.rglob("*") if p.is_file()) / 2**20


def call(url: str, clip: Path, endpoint: str, client=None) -> tuple[float, str | None]:
    """Seconds for one call (a fresh client unless one is given), and the error text if it failed."""
    from gradio_client import Client, handle_file

    start = time.perf_counter()
    try:
        (client or Client(url, verbose=False)).predict(handle_file(str(clip)), api_name=endpoint)
        return time.perf_counter() - start, None
    except Exception as exc:  # a refusal ("Queue is full") or any error: counted, not fatal
        return time.perf_counter() - start, str(exc)[:120]


def bench_http(url: str, clip: Path, runs: int) -> None:
    from gradio_client import Client

    client = Client(url, verbose=False)
    first, _ = call(url, clip, "/classify", client)
    times: dict[str, list[float]] = {"/classify": [], "/predict": []}
    for i in range(runs + 1):
        for endpoint in times:  # alternate, so both see the same load
            seconds, error = call(url, clip, endpoint, client)
            if error:
                sys.exit(f"{endpoint} failed: {error}")
            if i >= 1:
                times[endpoint].append(seconds)
    ratio = statistics.median(times["/classify"]) / statistics.median(times["/predict"])
    print(f"  first /classify after start                    {1000 * first:7.1f}")
    print(f"  click-to-result, /classify (page's outputs)    {ms(times['/classify'])}")
    print(f"  JSON only, /predict                            {ms(times['/predict'])}")
    print(f"  /classify / /predict (medians)                 {ratio:7.2f}")


def bench_load(url: str, pid: int, temp: Path, clip: Path, clients: int, total: int) -> None:
    cache = temp.parent / ".gradio"
    for endpoint in ("/predict", "/classify"):
        with ThreadPoolExecutor(clients) as pool:
            results = list(pool.map(lambda _: call(url, clip, endpoint), range(clients)))
        ok = [s for s, e in results if e is None]
        errors = sorted({e for _, e in results if e})
        print(f"  {clients} concurrent {endpoint:9s}: {len(ok)}/{clients} answered, p50 {percentile_ms(ok, 50):.0f} ms, "
              f"p95 {percentile_ms(ok, 95):.0f} ms" + (f"; errors: {errors}" if errors else ""))  # fmt: skip
    from gradio_client import Client

    pool_clients = [Client(url, verbose=False) for _ in range(4)]
    rss, disk, errors, done = [rss_mb(pid)], [folder_mb(temp, cache)], [], 0
    print(f"  {total} requests (4 clients, /predict and /classify alternating):")
    print(f"    {'requests':>8s} {'server RSS MB':>14s} {'temp+cache MB':>14s}")
    print(f"    {0:8d} {rss[0]:14.1f} {disk[0]:14.2f}")
    with ThreadPoolExecutor(len(pool_clients)) as pool:
        while done < total:
            batch = min(100, total - done)
            jobs = [(pool_clients[i % 4], "/predict" if i % 2 else "/classify") for i in range(batch)]
            errors += [e for _, e in pool.map(lambda j: call(url, clip, j[1], j[0]), jobs) if e is not None]
            done += batch
            rss.append(rss_mb(pid))
            disk.append(folder_mb(temp, cache))
            if done % 200 == 0:
                print(f"    {done:8d} {rss[-1]:14.1f} {disk[-1]:14.2f}")
    print(f"    failures: {len(errors)}{' ' + str(sorted(set(errors))) if errors else ''}; RSS after the first 100 requests {rss[1]:.1f} MB, at the end {rss[-1]:.1f} MB "
          f"({rss[-1] - rss[1]:+.1f} MB); temp+cache grew {disk[-1] - disk[0]:+.2f} MB")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--http", action="store_true", help="cold start and both endpoints over HTTP")
    parser.add_argument("--load", action="store_true", help="concurrent clients, memory and temp files")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip = five_second_clip(tmp)
        bench_functions(clip, args.runs)
        if not (args.http or args.load):
            return
        temp = tmp / "app" / "gradio_tmp"
        temp.parent.mkdir()
        proc, url, cold = start_app(temp, tmp / "app.log")
        try:
            print("over HTTP (python app.py, one torch thread per request), ms: median (fastest)")
            print(f"  cold start: launch to warmed up and answering  {cold:.1f} s")
            if args.http:
                bench_http(url, clip, args.runs)
            if args.load:
                bench_load(url, proc.pid, temp, clip, args.clients, args.requests)
        finally:
            proc.terminate()
            proc.wait(timeout=300)
            left = [p for p in temp.rglob("*") if p.is_file()] if temp.exists() else []
            print(f"  after SIGTERM: {len(left)} files left in the app's gradio temp folder")


if __name__ == "__main__":
    main()
