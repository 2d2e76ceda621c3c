"""OccFace: the 100-point landmark model with per-point visibility, its layout, training and evaluation."""
