"""advcourse — a hands-on course in adversarial machine learning, and its small attack library.

The notebooks in ``notebooks/`` teach; this package computes. Start with::

    import advcourse
    model = advcourse.load_model()                 # embedded EfficientNet-Lite0, no download
    advcourse.classify("chelsea_cat", model=model)
    advcourse.attack("chelsea_cat", "fgsm", model=model, eps=2/255)
"""

from advcourse.images import ImageLoadError, load_image, load_samples, sample_info, samples
from advcourse.labels import IMAGENET_CLASSES, class_index, class_name
from advcourse.models import available_models, load_model
from advcourse.one_call import AttackResult, Prediction, Predictions, attack, classify, predict

__version__ = "0.1.0"

__all__ = [
    "AttackResult", "IMAGENET_CLASSES", "ImageLoadError", "Prediction", "Predictions", "attack",
    "available_models", "class_index", "class_name", "classify", "load_image", "load_model",
    "load_samples", "predict", "sample_info", "samples",
]
