<<<<<<< HEAD
"""Data of the neural games: synthetic 2-D/1-D distributions (mog.py)."""
=======
"""Data of neural games: image datasets through torchvision (images.py) and batch samplers."""
>>>>>>> images
