"""Data of the neural games: synthetic distributions (mog.py), image datasets through torchvision
(images.py) and resumable batch samplers (sampler.py)."""
