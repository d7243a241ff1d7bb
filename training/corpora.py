"""What the model card says about each corpus: its full name, licence and whether commercial use is allowed.

Keyed by the corpus name a prepared cache carries (`prepare --corpus`, by default the corpus folder's name).
`train.py` copies the entries of the corpora it trained on into `train_args.json`, where the card reads them.
"""

CORPORA = {
    "commonvoice": {"title": "Mozilla Common Voice", "licence": "CC0-1.0", "commercial": True},
    "speech_accent_archive": {"title": "Speech Accent Archive (George Mason University)",
                              "licence": "CC-BY-NC-SA-2.0", "commercial": False},
    "speechocean762": {"title": "speechocean762 (Zhang et al., Interspeech 2021)", "licence": "Apache-2.0",
                       "commercial": True, "hub_id": "mispeech/speechocean762"},
}  # fmt: skip


def describe(name: str) -> dict:
    """The card's facts for a corpus; an unknown one is listed with its licence marked unknown."""
    return CORPORA.get(name.lower(), {"title": name, "licence": "unknown", "commercial": None})
