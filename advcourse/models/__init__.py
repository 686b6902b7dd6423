"""What the course attacks: the models and the data they read.

- :mod:`~advcourse.models.zoo` — ImageNet classifiers taking [0, 1] pixels (EfficientNet-Lite0/1/2
  offline, torchvision's resnet18/alexnet where weights can be fetched).
- :mod:`~advcourse.models.catalog`, :mod:`~advcourse.models.images`, :mod:`~advcourse.models.labels` —
  the shipped sample photos, loading any image, ImageNet class names.
- :mod:`~advcourse.models.datasets`, :mod:`~advcourse.models.nets` — the offline digits set (sklearn)
  and the small CNN that trains on it in seconds: the course's model for anything that must train.
"""
