"""Data of neural games: image datasets through torchvision (images.py) and batch samplers."""
