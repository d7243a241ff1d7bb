"""The web page behind `app.py`: turning a recording into what the page shows.

labels.py    probabilities per task and the low-confidence rule
card.py      what the page says about the loaded model (metrics.json, model card)
text.py      the summary sentence, error messages and the "How it works" text
colours.py   colour maps as look-up tables, PNG images and CSS gradients
figures.py   the pictures (spectrogram, attention maps, Grad-CAM, timeline) as HTML
uploads.py   deleting uploaded audio once analysed, and on shutdown
analysis.py  `Demo`: the loaded model and the page's callbacks
live.py      the live microphone mode
"""
