"""Make the demo's example clips with the espeak-ng speech synthesiser (Debian: espeak-ng, sox).

    python examples/make_examples.py            # writes examples/*.wav (16 kHz mono 16-bit)

The voices are synthetic, so the clips show how the page works; they say nothing about real speakers.
Re-running gives the same files for the same espeak-ng version.
"""

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

# file name, espeak-ng voice, words per minute, pitch (0-99), text
CLIPS = [
    ("en_us_female.wav", "en-us+f3", 150, 60,
     "Hello! I am trying out this demo, which guesses my age and gender from the sound of my voice."),
    ("en_male.wav", "en+m3", 145, 35,
     "Good morning. The weather today is mild, with a light breeze and some sunshine later on."),
    ("de_male.wav", "de+m1", 140, 40,
     "Guten Tag. Ich lese einen kurzen Satz vor, damit das Modell meine Stimme hören kann."),
    ("fr_female.wav", "fr+f2", 150, 65,
     "Bonjour, je m'appelle Claire. J'habite à Lyon et j'aime beaucoup la musique."),
    ("es_female_low.wav", "es+f4", 140, 45, "Buenas tardes. ¿Qué tal?"),
]


def make(name: str, voice: str, speed: int, pitch: int, text: str, out_dir: Path) -> Path:
    out = out_dir / name
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(raw), text], check=True)
        # 16 kHz mono 16-bit, peak-normalised to -3 dBFS, with 0.3 s of silence at each end like a real recording
        subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(out), "norm", "-3",
                        "pad", "0.3", "0.3"], check=True)  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: examples/)")
    args = parser.parse_args()
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing: apt-get install espeak-ng sox")
    args.out.mkdir(parents=True, exist_ok=True)
    for clip in CLIPS:
        path = make(*clip, out_dir=args.out)
        seconds = float(subprocess.run(["soxi", "-D", str(path)], capture_output=True, text=True).stdout)
        print(f"{path.name}: {seconds:.1f} s")


if __name__ == "__main__":
    main()
