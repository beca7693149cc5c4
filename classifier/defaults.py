"""Default values shared by the core, the command line and the training package, written once.

The training package is an optional extra that the command line may not import, so the
defaults of the training recipe that ``dmdt train`` shows live here, beside the shipped model's
name; :class:`training.pipeline.TrainSettings` and the parser both read them. The stream's
sizes are in :mod:`stream.defaults`.
"""

DEFAULT_MODEL = "mixed-two"  # answers `other`; css-hybrid: Catalina alone; css-dmdtnet: fast
ENSEMBLE_NAME = "survey-hybrid"  # ``dmdt ensemble``: the bundle it makes unless named
MIXTURE_NAME = "mixed-hybrid"  # ``dmdt mixture``: the bundle it makes unless named
PICTURE_GRID = "crts"  # ``dmdt image`` and ``dmdt gallery``: the paper's 22 x 24 grid
PICTURE_NORMALISATION = "mahabal"  # ``dmdt image`` and ``dmdt gallery``: 255 x pairs / n(n-1)/2

# ``dmdt train`` / TrainSettings: the recipe of the shipped hybrid (css-hybrid 1.2.0).
TRAINING_GRID = "crts-fine-dm"
MODEL_VERSION = "1.2.0"
TRAINING_SEED = 2017  # the split's seed and the training seed (initial weights, shuffles, views)
PARTIAL_VIEWS = 3  # partial (first-k-points) views added per training curve
NOISY_SHARE = 0.0  # share of partial views whose magnitudes are redrawn within their errors
TRUNK_CHANNELS = (32, 64)  # the widths of dmdtnet's and hybrid's two convolution blocks
STUDY_SEEDS = 3  # ``dmdt experiments``: seeds each study variant is trained with
