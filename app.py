"""Gradio demo: age and gender from speech with MAM-CNN, with the spectrogram, attention maps and Grad-CAM.

    python app.py                          # the bundled model (checkpoints/), http://127.0.0.1:7860
    python app.py --model user/repo        # a Hub id or local directory (or set AGEGENDER_MODEL)

This file only builds the page; the logic is in the `demo/` package beside it.
"""

import argparse
import logging
import os
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
import torch  # noqa: E402

from demo import figures, live, text  # noqa: E402
from demo.analysis import CONCURRENCY_LIMIT, MAX_FILE_MB, MAX_SECONDS, QUEUE_SIZE, Demo  # noqa: E402
from demo.uploads import shutdown_on_sigterm  # noqa: E402

HERE = Path(__file__).resolve().parent
EXAMPLES = sorted((HERE / "examples").glob("*.wav"))
MAX_FILE_SIZE = f"{MAX_FILE_MB}mb"
UPLOAD_TYPES = [f".{ext}" for ext in text.UPLOAD_FORMATS]
CSS = figures.CSS + """
#summary { font-size: 1.08rem; min-height: 2.5rem; }
#summary p { margin: 0; }
#how-it-works table { display: block; overflow-x: auto; }
#how-it-works th, #how-it-works td { white-space: nowrap; }
#file-input { min-height: 0; }
"""
# After an analysis: bring the summary into view when it is off screen (on a phone it is below the input).
SHOW_RESULTS_JS = """() => {
  const el = document.querySelector('#summary');
  if (!el) return;
  const top = el.getBoundingClientRect().top;
  if (top < 0 || top > window.innerHeight * 0.6) el.scrollIntoView({behavior: 'smooth', block: 'start'});
}"""


def build(demo: Demo) -> gr.Blocks:
    tasks = demo.tasks
    config = demo.clf.config
    # Uploads are deleted once decoded; this sweep (every minute, files over 5 minutes old) catches the rest.
    with gr.Blocks(title="Age and gender from speech", delete_cache=(60, 300), analytics_enabled=False) as page:
        # Outputs are made first (unrendered) so the examples can sit beside the input; rendered below.
        summary = gr.Markdown("Results appear here when you stop recording or an upload finishes.",
                              elem_id="summary", render=False)  # fmt: skip
        years = gr.Markdown("", elem_id="age-years", render=False)
        gender = gr.Label(label="Gender", num_top_classes=2, visible="gender" in tasks, elem_id="gender",
                          render=False)  # fmt: skip
        age = gr.Label(label="Age group", num_top_classes=3, visible="age" in tasks, elem_id="age", render=False)
        joint = gr.Label(label="Age and gender (joint)", num_top_classes=3, visible="age_gender" in tasks,
                         elem_id="age-gender", render=False)  # fmt: skip
        html_args = dict(render=False, js_on_load=None, padding=False)
        maps = gr.HTML(elem_id="spectrogram", **html_args)
        overlay = gr.HTML(elem_id="overlay", **html_args)
        gradcam = gr.HTML(elem_id="gradcam", **html_args)
        timeline = gr.HTML(elem_id="timeline", **html_args)
        target = gr.Dropdown(label="Grad-CAM for the label", choices=[], elem_id="gradcam-target", render=False)
        clip = gr.State(None, time_to_live=900)  # the decoded audio on the page, for Classify and Grad-CAM
        outputs = [summary, years, gender, age, joint, maps, overlay, gradcam, timeline, target, clip]

        gr.Markdown(
            "# Age and gender from speech\n"
            "Record your voice or upload a clip: a MAM-CNN (Tursunov et al., *Sensors* 2021) guesses the "
            "speaker's gender and age group and shows where in the spectrogram it looked. "
            f"{text.model_markdown(demo.facts, config)}"
        )
        with gr.Tabs():
            with gr.Tab("Analyse a clip", id="clip"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=2, min_width=300):
                        audio = gr.Audio(sources=["microphone"], type="filepath", label="Record your voice",
                                         elem_id="audio-input")  # fmt: skip
                        upload = gr.File(label="... or upload audio or video (" + ", ".join(text.UPLOAD_FORMATS) + ")",
                                         file_types=UPLOAD_TYPES, type="filepath", elem_id="file-input",
                                         height=110)  # fmt: skip
                        with gr.Row():
                            button = gr.Button("Classify", variant="primary", scale=2, elem_id="classify")
                            clear = gr.ClearButton(value="Clear", scale=1, elem_id="clear")
                        gr.Markdown(text.limits_markdown(demo.max_seconds, MAX_FILE_MB), elem_id="limits")
                        if EXAMPLES:
                            gr.Examples(examples=[[str(p)] for p in EXAMPLES], inputs=[audio], outputs=outputs,
                                        fn=demo.example, run_on_click=True, cache_examples=False,
                                        label="Example clips (synthetic espeak-ng voices)", api_visibility="private")  # fmt: skip
                    with gr.Column(scale=3, min_width=300):
                        summary.render()
                        years.render()
                        with gr.Row():
                            gender.render()
                            age.render()
                        joint.render()
                maps.render()
                with gr.Row(equal_height=False):
                    with gr.Column(min_width=320):
                        overlay.render()
                    with gr.Column(min_width=320):
                        target.render()
                        gradcam.render()
                timeline.render()
            with gr.Tab("Live microphone", id="live"):
                live.build_tab(demo)
        clear.add([audio, upload, *outputs])
        with gr.Accordion("How it works", open=False, elem_id="how-it-works"):
            gr.Markdown(text.how_it_works_markdown(demo.facts, config))

        # The analysis starts by itself when a recording stops or an upload finishes (both fire after the
        # file is on the server). Classify stays for a second look; it is disabled while recording, so a
        # click right after Stop cannot overtake the recording's upload.
        busy, ready = (lambda: gr.Button(interactive=False)), (lambda: gr.Button(interactive=True))
        audio.start_recording(busy, None, button, queue=False, api_visibility="private")
        analyse = dict(outputs=outputs, concurrency_id="analysis")
        private = dict(api_visibility="private", **analyse)
        for event in (audio.stop_recording(demo.classify, [audio, clip], api_name="recorded", **private),
                      upload.upload(demo.classify, [upload, clip], api_name="uploaded", **private),
                      button.click(demo.classify, [audio, clip], api_name="classify", **analyse)):  # fmt: skip
            event.then(ready, None, button, queue=False, api_visibility="private").then(None, js=SHOW_RESULTS_JS)
        audio.clear(ready, None, button, queue=False, api_visibility="private")
        target.input(demo.explain, [target, clip], gradcam, api_name="explain", api_visibility="private",
                     concurrency_id="analysis")  # fmt: skip
        # A JSON-only endpoint for API clients (gradio_client): labels, probabilities, windows, summary.
        json_out = gr.JSON(label="Result", visible=False)
        gr.Button(visible=False).click(demo.predict, inputs=audio, outputs=json_out, api_name="predict",
                                       concurrency_id="analysis")  # fmt: skip
    page.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=QUEUE_SIZE)
    return page


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Gradio demo: age and gender from speech.")
    parser.add_argument("--model", default=None,
                        help="Hub id or local directory (default: $AGEGENDER_MODEL, else the bundled checkpoints/)")  # fmt: skip
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        help="address to listen on (0.0.0.0 to serve the network)")  # fmt: skip
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--max-seconds", type=float, default=MAX_SECONDS, help="longest clip accepted")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("AGEGENDER_THREADS", "1")),
                        help="CPU threads per request (default 1: concurrent requests use the other cores; "
                             "several threads per request on a busy CPU are many times slower)")  # fmt: skip
    args = parser.parse_args(argv)
    started = time.perf_counter()
    torch.set_num_threads(max(1, args.threads))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per HTTP call of the warm-up request
    try:
        demo = Demo.load(args.model, max_seconds=args.max_seconds, keep=EXAMPLES)  # shared by all requests
    except Exception as exc:  # a wrong id or folder: say which, without a trace
        parser.exit(1, f"app.py: cannot load the model {args.model or os.environ.get('AGEGENDER_MODEL') or 'checkpoints/'}: {exc}\n")
    demo.warm_up(EXAMPLES[0] if EXAMPLES else None)  # the first click is no slower than the next ones
    page = build(demo)
    shutdown_on_sigterm(page)  # a normal stop deletes gradio's temp files (uploads included)
    logging.getLogger("app").info("ready in %.1f s (model loaded and warmed up)", time.perf_counter() - started)
    try:
        page.launch(server_name=args.host, server_port=args.port, max_file_size=MAX_FILE_SIZE, share=False,
                    css=CSS, footer_links=["api"], prevent_thread_lock=True)  # fmt: skip
    except OSError as exc:  # the port is taken (often by another copy of the demo): say so, without a trace
        parser.exit(1, f"app.py: cannot serve on {args.host}:{args.port}, is another server there? "
                       f"Choose another port with --port N. ({exc})\n")  # fmt: skip
    demo.warm_up_server(page.local_url, EXAMPLES[0] if EXAMPLES else None)  # and once through gradio
    logging.getLogger("app").info("serving, warmed up, %.1f s after start", time.perf_counter() - started)
    page.block_thread()


if __name__ == "__main__":
    main()
