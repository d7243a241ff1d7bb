"""Gradio demo: age and gender from speech with MAM-CNN, with the spectrogram and attention maps.

    python app.py                          # the bundled model (checkpoints/), http://127.0.0.1:7860
    python app.py --model user/repo        # a Hub id or local directory (or set AGEGENDER_MODEL)

This file only builds the page; the logic is in agegender/demo.py and agegender/plots.py.
"""

import argparse
import csv
import hashlib
import logging
import os
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
import torch  # noqa: E402

from agegender.demo import CONCURRENCY_LIMIT, MAX_FILE_SIZE, MAX_SECONDS, QUEUE_SIZE, Demo  # noqa: E402

# Cached example results are kept in a CSV file with the figures inline as base64 PNG (~200 kB a cell).
csv.field_size_limit(64 * 1024 * 1024)

HERE = Path(__file__).resolve().parent
EXAMPLES = sorted((HERE / "examples").glob("*.wav"))
CSS = """
#summary { font-size: 1.08rem; min-height: 2.5rem; }
#summary p { margin: 0; }
.plot-panel img { width: 100%; height: auto; }
#how-it-works table { display: block; overflow-x: auto; }
#how-it-works th, #how-it-works td { white-space: nowrap; }
/* On a phone the figures keep a readable size and scroll sideways. */
@media (max-width: 700px) {
  .plot-panel { overflow-x: auto !important; }
  .plot-panel .matplotlib { display: block !important; }
  .plot-panel img { min-width: 680px; max-width: none; }
}
"""


def _examples_cache(demo: Demo) -> str:
    """A cache folder per model, so cached example results never outlive the model that made them."""
    digest = hashlib.sha256()
    for name, tensor in sorted(demo.clf.net.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().numpy().tobytes()[:4096])
    return str(HERE / ".gradio" / "cached_examples" / digest.hexdigest()[:12])


def build(demo: Demo) -> gr.Blocks:
    os.environ.setdefault("GRADIO_EXAMPLES_CACHE", _examples_cache(demo))
    tasks = demo.tasks
    # Uploaded and recorded files are removed from gradio's cache an hour after they arrive.
    with gr.Blocks(title="Age and gender from speech", delete_cache=(600, 3600), analytics_enabled=False) as page:
        # Outputs are made first (unrendered) so the examples can sit beside the input; rendered below.
        summary = gr.Markdown("Results appear here after you click **Classify**.", label="Summary",
                              elem_id="summary", render=False)  # fmt: skip
        gender = gr.Label(label="Gender", num_top_classes=2, visible="gender" in tasks, elem_id="gender",
                          render=False)  # fmt: skip
        age = gr.Label(label="Age group", num_top_classes=3, visible="age" in tasks, elem_id="age", render=False)
        joint = gr.Label(label="Age and gender (joint)", num_top_classes=3, visible="age_gender" in tasks,
                         elem_id="age-gender", render=False)  # fmt: skip
        plot_args = dict(elem_classes="plot-panel", format="png", render=False)
        spectrogram = gr.Plot(label="Spectrogram and attention maps", elem_id="spectrogram", **plot_args)
        overlay = gr.Plot(label="Attention overlay", elem_id="overlay", **plot_args)
        timeline = gr.Plot(label="Timeline", elem_id="timeline", **plot_args)
        outputs = [summary, gender, age, joint, spectrogram, overlay, timeline]

        gr.Markdown(
            "# Age and gender from speech\n"
            "Record your voice or upload a clip: a MAM-CNN (Tursunov et al., *Sensors* 2021) guesses the "
            "speaker's gender and age group and shows where in the spectrogram it looked. "
            f"{demo.model_markdown()}"
        )
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=300):
                audio = gr.Audio(
                    sources=["microphone", "upload"], type="filepath", label="Speech (record or upload)",
                    elem_id="audio-input",
                )  # fmt: skip
                with gr.Row():
                    button = gr.Button("Classify", variant="primary", scale=2, elem_id="classify")
                    clear = gr.ClearButton(value="Clear", scale=1, elem_id="clear")
                gr.Markdown(demo.limits_markdown(), elem_id="limits")
                if EXAMPLES:
                    gr.Examples(
                        examples=[[str(p)] for p in EXAMPLES], inputs=[audio], outputs=outputs, fn=demo.classify,
                        cache_examples=True, cache_mode="lazy", label="Example clips (synthetic espeak-ng voices)",
                        api_name=False,
                    )  # fmt: skip
            with gr.Column(scale=3, min_width=300):
                summary.render()
                with gr.Row():
                    gender.render()
                    age.render()
                joint.render()
        spectrogram.render()
        overlay.render()
        timeline.render()
        clear.add([audio, *outputs])
        with gr.Accordion("How it works", open=False, elem_id="how-it-works"):
            gr.Markdown(demo.how_it_works_markdown())

        button.click(demo.classify, inputs=audio, outputs=outputs, api_name="classify")
        # A JSON-only endpoint for API clients (gradio_client): labels, probabilities, windows, summary.
        json_out = gr.JSON(label="Result", visible=False)
        gr.Button(visible=False).click(demo.predict, inputs=audio, outputs=json_out, api_name="predict")
    page.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=QUEUE_SIZE)
    return page


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Gradio demo: age and gender from speech.")
    parser.add_argument("--model", default=None,
                        help="Hub id or local directory (default: $AGEGENDER_MODEL, else the bundled checkpoints/)")  # fmt: skip
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        help="address to listen on (0.0.0.0 to serve the network)")  # fmt: skip
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    parser.add_argument("--max-seconds", type=float, default=MAX_SECONDS, help="longest clip accepted")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("AGEGENDER_THREADS", 1)),
                        help="CPU threads per request (default 1: concurrent requests use the other cores; "
                             "several threads per request on a busy CPU are many times slower)")  # fmt: skip
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, args.threads))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        demo = Demo.load(args.model, max_seconds=args.max_seconds)  # loaded once, shared by all requests
    except Exception as exc:  # a wrong id or folder: say which, without a trace
        parser.exit(1, f"app.py: cannot load the model {args.model or os.environ.get('AGEGENDER_MODEL') or 'checkpoints/'}: {exc}\n")
    page = build(demo)
    page.launch(server_name=args.host, server_port=args.port, max_file_size=MAX_FILE_SIZE, share=False,
                css=CSS, footer_links=["api"])  # fmt: skip


if __name__ == "__main__":
    main()
